"""Rule rank: count each cluster's most activated hidden neurons and describe each cluster."""

from nntopo.workflow.jobs import job
from nntopo.analysis.stage import rank_clusters

with job(snakemake.log[0], snakemake.threads) as log:
    rank_clusters(snakemake.input.activations, snakemake.input.clusters, snakemake.output.ranking,
                  snakemake.output.table, snakemake.params.settings, log=log.info)
