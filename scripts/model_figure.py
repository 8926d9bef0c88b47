"""Rule model_figure: one per-model figure (activation or weight distributions)."""

from nntopo.figures import draw_model_figure
from nntopo.jobs import job

with job(snakemake.log[0], snakemake.threads):
    draw_model_figure(snakemake.wildcards.figure, snakemake.input, snakemake.output[0], snakemake.params.settings)
