"""Rule homology: persistent homology of every layer and class of one model."""

from nntopo.topology.stage import model_homology
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    model_homology(snakemake.input.activations, snakemake.input.input, snakemake.params.settings, snakemake.output,
                   log=log.info)
