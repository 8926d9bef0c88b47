"""Rule model_figure: one per-model figure (activation or weight distributions, method agreement)."""

from nntopo.figures import draw_model_figure
from nntopo.jobs import job

with job(snakemake.log[0], snakemake.threads):
    draw_model_figure(
        snakemake.wildcards.figure,
        f"{snakemake.wildcards.dataset} {snakemake.wildcards.model}",
        snakemake.input,
        snakemake.output[0],
        snakemake.params.settings,
    )
