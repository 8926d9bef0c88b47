"""Rules domain_figures (a layer's clusters of one method: their regions, their top neurons' activations and
where silencing those raises the error, on the 2-D input domain) and domain_error (a model's error over its
domain): nntopo/figures/domain.py."""

from nntopo import config, store
from nntopo.figures import domain
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    inputs, wildcards = snakemake.input, snakemake.wildcards
    acts = store.read_activations(inputs.activations)
    xy = domain.analysed_coordinates(acts, data_dir=config.data_dir(snakemake.config),
                                     download=snakemake.config["download"], data_file=inputs.get("data"),
                                     where=str(inputs.activations))
    title = f"{wildcards.dataset} {wildcards.model}"
    outputs = dict(snakemake.output.items())
    if "layer" not in wildcards.keys():  # noqa: SIM118 (Wildcards is no dict)
        domain.write_model_figures(acts, xy, outputs, title)
    else:
        from nntopo.analysis.stage import ablators

        external = snakemake.params.external
        network = None  # a grid MLP's neurons are silenced in its layers replayed from weights.h5
        if external is not None:  # the network's threads are set by its ablator (analysis.stage.ablators)
            from nntopo.network.external import load_network

            def network():
                return load_network(external), xy

        ablator_of = ablators(inputs.get("weights"), network, external, snakemake.threads)
        domain.write_layer_figures(acts, xy, inputs.clusters, inputs.ranking, outputs, snakemake.params.settings,
                                   title, ablator_of)
    log.info("drew %s", ", ".join(outputs))
