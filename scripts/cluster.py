"""Rule cluster: cluster one model's analysed points in one layer with one method."""

from nntopo.clustering.stage import cluster_activations
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    cluster_activations(snakemake.input.activations, snakemake.output[0], snakemake.wildcards.layer,
                        snakemake.params.settings, log=log.info)
