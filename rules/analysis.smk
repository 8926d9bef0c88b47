# What the clusters mean, one job per layer for all methods: each method's neuron rankings and
# cluster table, the ablation of each cluster's top neurons, and the agreement between methods.
# Then how the partitions change from layer to layer (flow, per model), a linear probe of every
# layer, (with several seeds) stability across training seeds, and per dataset the summary of
# every model (nntopo/analysis/summary.py). These stages take seconds a method; one job per method
# spent most of its time starting Python.


rule analyse_layer:
    input:
        # A CNN's channels are silenced in its network, run on the test images; an external network's
        # units in that network; a grid MLP's neurons in its layers replayed from weights.h5.
        unpack(network_inputs),
        activations=paths.ACTIVATIONS,
        **per_method({"clusters": paths.CLUSTERS}),
    output:
        agreement=paths.AGREEMENT,
        **per_method({"ranking": paths.RANKING, "table": paths.CLUSTER_TABLE, "ablation": paths.ABLATION}),
    params:
        methods=config["clustering"]["methods"],
        ranking=lambda wildcards: nnconfig.ranking_slice(config, wildcards.model, wildcards.layer),
        ablation=lambda wildcards: nnconfig.ablation_slice(config, wildcards.model, wildcards.layer),
        external=external_settings,
    log:
        paths.for_rule(paths.LAYER_LOG, "analyse_layer"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "analyse_layer")
    threads: 1
    # A CNN's channels are silenced in maps recomputed from model.pt (/usr/bin/time, cnn16x32-d64 on
    # MNIST, 4 methods, 2 busy cores): 1.5 GB and 174 s for hidden_1, 1.6 GB and 151 s for the output
    # (which silences every layer's channels); an MLP's layers took at most 385 MB and 10 s. An external
    # network runs whole per silenced set: asked as much as a CNN. Both grow with the analysed points.
    resources:
        mem_mb=lambda wildcards, attempt: (points_mb(2000, 4000) if runs_network(wildcards.model)
                                           else points_mb(1000, 3000))(wildcards, attempt),
        runtime=lambda wildcards, attempt: points_minutes(15 if runs_network(wildcards.model) else 5)(wildcards, attempt),
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/analyse_layer.py"


rule flow:
    input:
        activations=paths.ACTIVATIONS,
        clusters=lambda wildcards: method_outputs([paths.CLUSTERS], lambda p: [
            paths.fill(p, **wildcards, layer=layer) for layer in analysed_layers(wildcards.model)]),
    output:
        **per_method({"flow": paths.FLOW, "contingency": paths.CONTINGENCY}),
    params:
        methods=config["clustering"]["methods"],
        layers=lambda wildcards: analysed_layers(wildcards.model),
    log:
        paths.for_rule(paths.LOG, "flow"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "flow")
    threads: 1
    resources:
        mem_mb=points_mb(500, 1000),
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/flow.py"


rule probe:
    input:
        activations=paths.ACTIVATIONS,
    output:
        paths.PROBE,
    params:
        layers=lambda wildcards: analysed_layers(wildcards.model),
        seed=config["analysis"]["probe_seed"],
    log:
        paths.for_rule(paths.LOG, "probe"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "probe")
    threads: 1
    resources:
        mem_mb=points_mb(1000, 3000),
        runtime=points_minutes(5),
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/probe.py"


rule seed_stability:
    input:
        # The grid's seeds (an external network has one).
        clusters=lambda wildcards: method_outputs([paths.CLUSTERS],
                                                  lambda p: layer_outputs(p, dataset=wildcards.dataset, grid=True)),
        # The true labels of the test points, the same in every model's file.
        activations=lambda wildcards: model_outputs(paths.ACTIVATIONS, dataset=wildcards.dataset, grid=True)[0],
    output:
        paths.SEED_STABILITY,
    log:
        paths.for_rule(paths.DATASET_LOG, "seed_stability"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "seed_stability")
    threads: 1
    # Not in the default study (one seed). Digits with two seeds (/usr/bin/time): 169 MB RSS and 3.2 s;
    # MNIST has 18x the test points. Asked: 1000 MB and 5 min, doubled per retry; the memory grows with
    # the analysed points.
    resources:
        mem_mb=points_mb(1000, 2500),
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/seed_stability.py"


rule summary:
    input:
        metrics=lambda wildcards: model_outputs(paths.METRICS, dataset=wildcards.dataset),
        activations=lambda wildcards: model_outputs(paths.ACTIVATIONS, dataset=wildcards.dataset),
        probes=lambda wildcards: model_outputs(paths.PROBE, dataset=wildcards.dataset),
        flows=lambda wildcards: method_outputs([paths.FLOW], lambda *p: model_outputs(*p, dataset=wildcards.dataset)),
        agreements=lambda wildcards: layer_outputs(paths.AGREEMENT, dataset=wildcards.dataset),
        clusters=lambda wildcards: method_outputs([paths.CLUSTERS], lambda *p: layer_outputs(*p, dataset=wildcards.dataset)),
        rankings=lambda wildcards: method_outputs([paths.RANKING], lambda *p: layer_outputs(*p, dataset=wildcards.dataset)),
        ablations=lambda wildcards: method_outputs([paths.ABLATION], lambda *p: layer_outputs(*p, dataset=wildcards.dataset)),
    output:
        table=paths.SUMMARY_TABLE,
        figure=report(
            paths.SUMMARY_FIGURE,
            caption="../report/summary.rst",
            category="{dataset} summary",
        ),
        ablation=paths.SUMMARY_ABLATION,
        agreement=paths.SUMMARY_AGREEMENT,
        layers=paths.SUMMARY_LAYERS,
        depth=[report(path, caption="../report/depth.rst", category="{dataset} summary") for path in depth_figures()],
    params:
        settings=lambda wildcards: {
            "dataset": wildcards.dataset,
            "methods": config["clustering"]["methods"],
            "top_k": config["clustering"]["top_k"],
            "alpha": config["ablation"]["alpha"],
        },
    log:
        paths.for_rule(paths.DATASET_LOG, "summary"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "summary")
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 209 MB RSS and 2.4 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry; the
    # memory grows with the analysed points.
    resources:
        mem_mb=points_mb(500, 2000),
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/summary.py"
