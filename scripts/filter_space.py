"""Rule filter_space: the space of one CNN architecture's first-layer filters (every seed's kernels,
filtered by contrast and density), its persistence diagram and Mapper graph, and their figures."""

from nntopo.weights.stage import architecture_filter_space
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    architecture_filter_space(list(snakemake.input.weights), snakemake.wildcards.dataset,
                              snakemake.wildcards.architecture, snakemake.params.settings, snakemake.output,
                              log=log.info)
