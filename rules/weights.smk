# What the weights hold (nntopo/weights): the space of a layer's neurons, the space of a CNN
# architecture's first-layer filters, and neural persistence through training gathered per dataset.


# The space of neurons (nntopo/weights/neurons.py): per model and hidden layer, the neurons' unit input
# weight vectors as a point cloud, its Mapper graph coloured by what each neuron does and its
# persistence diagram, with their figures; for the first hidden layer of an image dataset, the graph's
# nodes drawn as mean weight images.


# Inputs: the weights, the test activations (dead or alive) and the rankings, not metrics.json, so new
# training logs rerun nothing here.
rule neurons:
    input:
        weights=paths.WEIGHTS,
        activations=paths.ACTIVATIONS,
        rankings=neuron_rankings,
    output:
        space=paths.NEURON_SPACE,
        **figure_outputs(paths.NEURON_FIGURES, paths.NEURON_FIGURE, "{dataset} {model}", "space of neurons"),
    params:
        settings=nnconfig.neurons_slice(config),
    wildcard_constraints:
        layer="hidden_[1-9][0-9]*",
    log:
        paths.for_rule(paths.LAYER_LOG, "neurons"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "neurons")
    threads: 1
    # Measured on the default models' layers (real MNIST, one process each, figures included): 6 s
    # and 360 MB RSS for the 1,024 neurons of mlp1024-none-s0's hidden_1, 5-6 s and 240-250 MB for 100
    # and 128 neurons; about 1.3 s of it is importing kmapper, 1.5 s the figures. Asked: 1000 MB and
    # 5 min, doubled per retry; the memory grows with the analysed points (their activations are read).
    resources:
        mem_mb=points_mb(1000, 2000),
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/neurons.py"


rule neuron_filters:
    input:
        space=paths.NEURON_SPACE,
    output:
        **figure_outputs(paths.NEURON_IMAGE_FIGURES, paths.NEURON_FIGURE, "{dataset} {model}", "space of neurons"),
    wildcard_constraints:
        layer="hidden_1",
    log:
        paths.for_rule(paths.LAYER_LOG, "neuron_filters"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "neuron_filters")
    threads: 1
    # Measured (the same layers): 1.7 s and 170 MB RSS for the 1,024 neurons' figure. Asked: 500 MB and
    # 2 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 2 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/neuron_filters.py"


# The space of first-layer filters (nntopo/weights/filters.py; Gabrielsson and Carlsson 2019): per
# dataset and CNN architecture (the model id without its seed), the first convolutional layer's kernels
# of every seed together, filtered by contrast and density; their persistence diagram and Mapper graph,
# with their figures (filter_weights and filter_points are in rules/common.smk).


# Inputs: the weights alone (not metrics.json, nor activations), so new training logs rerun nothing here.
rule filter_space:
    input:
        weights=filter_weights,
    output:
        space=paths.FILTER_SPACE,
        **figure_outputs(paths.FILTER_FIGURES, paths.FILTER_FIGURE, "{dataset} {architecture}",
                         "space of first-layer filters"),
    params:
        settings=nnconfig.filters_slice(config),
    wildcard_constraints:
        architecture=nnmodels.ARCHITECTURE_REGEX,
    log:
        paths.for_rule(paths.FILTER_LOG, "filter_space"),
    benchmark:
        paths.for_rule(paths.FILTER_BENCHMARK, "filter_space")
    threads: 1
    # Measured (2 busy cores, figures included): 7 s and 245 MB RSS for the 160 and 640 kernels of 10
    # seeds of cnn16x32-none and cnn64-none (40 and 160 points kept); the Rips complex grows steeply beyond:
    # 11 s and 500 MB for 800 points, 166 s and 2.5 GB for 1,600 (half of them random kernels). Asked:
    # 1000 MB + points^2 / 1000 and 5 min + points^4 / 10^12 (1,600 points: 3.6 GB and 11 min), doubled
    # per retry.
    resources:
        mem_mb=lambda wildcards, attempt: (1000 + filter_points(wildcards) ** 2 // 1000) * attempt,
        runtime=lambda wildcards, attempt: (5 + filter_points(wildcards) ** 4 // 10**12) * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/filter_space.py"


# Neural persistence of the weights (nntopo/weights/): training measures it after every epoch into
# metrics.json; this rule gathers every model's per dataset, with when each early-stopping criterion
# would end training, and draws it against epochs beside its controls.


rule neural_persistence_summary:
    input:
        metrics=lambda wildcards: model_outputs(paths.METRICS, dataset=wildcards.dataset, grid=True),
    output:
        table=paths.SUMMARY_NEURAL_PERSISTENCE,
        stopping=paths.SUMMARY_EARLY_STOPPING,
        figure=report(paths.SUMMARY_NEURAL_PERSISTENCE_FIGURE, caption="../report/neural_persistence.rst",
                      category="{dataset} summary"),
    params:
        settings=lambda wildcards: {"dataset": wildcards.dataset,
                                    **{key: config["training"]["early_stopping"][key] for key in ("patience", "min_delta")}},
    log:
        paths.for_rule(paths.DATASET_LOG, "neural_persistence_summary"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "neural_persistence_summary")
    threads: 1
    # Reads only metrics.json. make bench (default study): 3.6 s and 613 MB when it imported torch for
    # the stopping rule; that rule now lives apart (nntopo/network/stopping.py): 1.2 s and 126 MB for
    # the default study or 15 models of configs/neural_persistence.yaml. Asked: 500 MB and 2 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 2 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/neural_persistence_summary.py"
