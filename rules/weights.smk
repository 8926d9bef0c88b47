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
    # 5 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
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
