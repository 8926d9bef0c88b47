"""Rule seed_stability: how much the clusterings of the same architecture agree across training seeds."""

from nntopo.workflow.jobs import job
from nntopo.analysis.stage import seed_stability

with job(snakemake.log[0], snakemake.threads) as log:
    seed_stability(snakemake.input.clusters, snakemake.input.activations, snakemake.output[0], log=log.info)
