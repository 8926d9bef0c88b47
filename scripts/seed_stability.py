"""Rule seed_stability: how much the clusterings of the same architecture agree across training seeds."""

from nntopo.jobs import job
from nntopo.stages import seed_stability

with job(snakemake.log[0], snakemake.threads) as log:
    seed_stability(snakemake.input.clusters, snakemake.input.activations, snakemake.output[0], log=log.info)
