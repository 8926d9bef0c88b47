# The space of first-layer filters (nntopo/weights/filters.py; Gabrielsson and Carlsson 2019): per
# dataset and CNN architecture (the model id without its seed), the first convolutional layer's kernels
# of every seed together, filtered by contrast and density; their persistence diagram and Mapper graph,
# with their figures (the functions they use are in rules/common.smk).


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
