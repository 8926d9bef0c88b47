"""Rule method_figure: one figure of a model's clusters under one method."""

from nntopo import config
from nntopo.figures import draw_method_figure
from nntopo.jobs import job

with job(snakemake.log[0], snakemake.threads):
    draw_method_figure(
        snakemake.wildcards.figure,
        f"{snakemake.wildcards.dataset} {snakemake.wildcards.model}",
        snakemake.wildcards.method,
        snakemake.input,
        snakemake.output[0],
        snakemake.params.settings,
        data_dir=config.data_dir(snakemake.config),
        download=snakemake.config["download"],
    )
