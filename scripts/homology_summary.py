"""Rule homology_summary: the homology tables across models and Betti numbers against depth."""

from nntopo.topology.stage import homology_summary
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads):
    homology_summary(snakemake.input.tables, snakemake.input.metrics, snakemake.input.input, snakemake.output,
                     snakemake.params.settings["min_train_accuracy"])
