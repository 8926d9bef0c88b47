"""Rule agreement: ARI and NMI between every pair of methods, and each method's purity."""

from nntopo.workflow.jobs import job
from nntopo.analysis.stage import agree

with job(snakemake.log[0], snakemake.threads) as log:
    agree(snakemake.input.activations, snakemake.input.clusters, snakemake.output[0], log=log.info)
