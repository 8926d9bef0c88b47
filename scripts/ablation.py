"""Rule ablation: silence each cluster's top neurons, and random ones, and measure the accuracy."""

from nntopo.workflow.jobs import job
from nntopo.analysis.stage import ablate

with job(snakemake.log[0], snakemake.threads) as log:
    ablate(snakemake.input.activations, snakemake.input.weights, snakemake.input.clusters, snakemake.input.ranking,
           snakemake.output[0], snakemake.params.settings, log=log.info)
