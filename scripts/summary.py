"""Rule summary: accuracy, weight norm and sparsity, and cluster counts across the grid."""

from nntopo.figures import summarize
from nntopo.jobs import job

with job(snakemake.log[0], snakemake.threads):
    summarize(snakemake.input.metrics, snakemake.input.clusters, snakemake.output.table, snakemake.output.figure)
