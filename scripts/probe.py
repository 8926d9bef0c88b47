"""Rule probe: a linear probe of every analysed layer of one model."""

from nntopo.analysis.stage import probe_layers
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    probe_layers(snakemake.input.activations, snakemake.output[0], list(snakemake.params.layers),
                 snakemake.params.seed, log=log.info)
