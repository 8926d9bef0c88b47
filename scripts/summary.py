"""Rule summary: the grid at a glance, and the per-model ablation and agreement tables gathered."""

from nntopo.analysis.summary import summarize
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads):
    summarize(snakemake.input, snakemake.output, snakemake.params.settings)
