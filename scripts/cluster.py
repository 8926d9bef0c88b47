"""Rule cluster: cluster one model's test points with one method."""

from nntopo.stages import cluster_activations
from nntopo.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    cluster_activations(snakemake.input.activations, snakemake.output[0], snakemake.params.settings, log=log.info)
