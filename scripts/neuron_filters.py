"""Rule neuron_filters: the first hidden layer's space of neurons with each Mapper node drawn as the mean
weight image of its neurons."""

from nntopo.weights.stage import draw_neuron_filters
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads):
    draw_neuron_filters(snakemake.input.space, snakemake.output.neuron_filters)
