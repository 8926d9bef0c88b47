"""Rule flow: how each method's partitions relate from layer to layer."""

from nntopo.analysis.stage import layer_flow
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    for method in snakemake.params.methods:
        layer_flow(snakemake.input.activations, [p for p in snakemake.input.clusters if p.endswith(f"/{method}.h5")],
                   snakemake.output[f"flow__{method}"], snakemake.output[f"contingency__{method}"], log=log.info)
