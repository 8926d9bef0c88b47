"""Rule neurons: the space of one hidden layer's neurons (their unit input weight vectors), its Mapper
graph coloured by what each neuron does, its persistence diagram, and their figures."""

from nntopo.weights.stage import layer_neuron_space
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    layer_neuron_space(snakemake.input.weights, snakemake.input.activations, snakemake.input.rankings,
                       snakemake.wildcards.layer, snakemake.params.settings, snakemake.output, log=log.info)
