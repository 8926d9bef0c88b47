# Figures on the input domain of a regression whose inputs are 2-D points (nntopo/figures/domain.py): per
# model, layer and method the clusters' regions, their top neurons' activations and where silencing those
# raises the error; per model the network's error over the domain. domain_targets() names them for `all`.
from nntopo.figures import domain


def domain_targets():
    """The domain figures of every model of every dataset they are drawn for (domain.draws_domain)."""
    datasets = [name for name in nnconfig.dataset_names(config) if domain.draws_domain(nndatasets.get(name, config))]
    per_layer = [paths.fill(path, method=method) for path in domain.layer_outputs().values()
                 for method in config["clustering"]["methods"]]
    return [path for name in datasets
            for path in model_outputs(*domain.model_outputs().values(), dataset=name)
            + layer_outputs(*per_layer, dataset=name)]


def domain_settings(wildcards):
    """What a layer's domain figures read: the ranked layer drawn, the neurons shown and silenced per cluster."""
    return {"shown": nnconfig.ranked_layers(config, wildcards.model, wildcards.layer)[-1],
            "top": config["figures"]["top"], "top_k": config["clustering"]["top_k"],
            "max_clusters": config["figures"]["max_clusters"]}


rule domain_figures:
    input:
        # The ablation's network, as analyse_layer's: a grid MLP's weights, an external network's files.
        unpack(network_inputs),
        activations=paths.ACTIVATIONS,
        clusters=paths.CLUSTERS,
        ranking=paths.RANKING,
    output:
        **{name: report(path, caption=f"../report/figures/{name}.rst", category="{dataset} {model}",
                        subcategory="{layer} {method} domain")
           for name, path in domain.layer_outputs().items()},
    params:
        settings=domain_settings,
        external=external_settings,
    log:
        paths.for_rule(paths.LAYER_METHOD_LOG, "domain_figures"),
    benchmark:
        paths.for_rule(paths.LAYER_METHOD_BENCHMARK, "domain_figures")
    threads: 1
    # Measured (benchmark records) on the PINA example's 10,000 grid points: 830-934 MB, 10-15 s (the
    # external PINN, whose ablation runs the network; the grid MLP's less).
    resources:
        mem_mb=points_mb(1200, 3000),
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/domain_figures.py"


rule domain_error:
    input:
        unpack(dataset_inputs),
        activations=paths.ACTIVATIONS,
    output:
        **{name: report(path, caption=f"../report/figures/{name}.rst", category="{dataset} {model}",
                        subcategory="model")
           for name, path in domain.model_outputs().items()},
    log:
        paths.for_rule(paths.LOG, "domain_error"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "domain_error")
    threads: 1
    resources:
        mem_mb=points_mb(500, 1500),
        runtime=lambda wildcards, attempt: 2 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/domain_figures.py"
