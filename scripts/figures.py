"""Rules model_figures, method_figures and graph_figures: every figure the rule outputs, in one process."""

from nntopo import config
from nntopo.workflow.figures import draw_figures
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads):
    draw_figures(
        dict(snakemake.output.items()),
        snakemake.input,
        snakemake.params.settings,
        snakemake.wildcards.dataset,
        snakemake.wildcards.model,
        getattr(snakemake.wildcards, "method", None),
        data_dir=config.data_dir(snakemake.config),
        download=snakemake.config["download"],
    )
