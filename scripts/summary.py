"""Rule summary: the grid at a glance, and the per-model ablation and agreement tables gathered."""

from nntopo.figures import summarize
from nntopo.jobs import job

with job(snakemake.log[0], snakemake.threads):
    summarize(snakemake.input, snakemake.output, snakemake.params.settings)
