"""Rule neural_persistence_summary: every model's neural persistence through training, per dataset."""

from nntopo.weights.stage import summarize_persistence
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads):
    summarize_persistence(snakemake.input.metrics, snakemake.output, snakemake.params.settings)
