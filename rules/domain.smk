# Figures on the input domain of a regression whose inputs are 2-D points (nntopo/figures/domain.py): per
# model, layer and method the clusters' regions, their top neurons' activations and where silencing those
# raises the error; per model the network's error over the domain. rules/targets.smk's domain_targets()
# names them for `all`; rules/common.smk's domain_settings() is what a layer's figures read.

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
