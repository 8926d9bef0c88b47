# Persistent homology of every layer and class (nntopo/topology), and the point clouds of known
# topology it is checked on (nntopo/data/shapes.py).


rule shape_data:
    output:
        paths.DATA_FILE,
    params:
        settings=lambda wildcards: nnconfig.shapes_slice(config, wildcards.dataset),
    wildcard_constraints:
        dataset="|".join(nnconfig.SHAPES),
    log:
        paths.for_rule(paths.DATASET_LOG, "shape_data"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "shape_data")
    threads: 1
    # 0.2 s for 10,400 points (results/benchmarks/shape_data). Asked: 500 MB and 1 min,
    # doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/shape_data.py"


rule input_homology:
    input:
        unpack(dataset_inputs),
    output:
        paths.INPUT_HOMOLOGY,
    params:
        settings=nnconfig.homology_slice(config),
    log:
        paths.for_rule(paths.DATASET_LOG, "input_homology"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "input_homology")
    threads: 1
    # Measured on the default study (`make bench`, the homology alone): 7 s and 264 MB RSS (MNIST's
    # input, 10 digits). Asked: 1000 MB and 5 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/input_homology.py"


rule homology:
    input:
        activations=paths.ACTIVATIONS,
        input=paths.INPUT_HOMOLOGY,
    output:
        data=paths.HOMOLOGY,
        table=paths.HOMOLOGY_TABLE,
    params:
        settings=nnconfig.homology_slice(config),
    log:
        paths.for_rule(paths.LOG, "homology"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "homology")
    threads: 1
    # Measured (the same run): 10-30 s and at most 284 MB RSS a model (the deep one the longest).
    # Asked: 1000 MB and 10 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=lambda wildcards, attempt: 10 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/homology.py"


# Measured (the same run): the figures 3-5 s and 196 MB, the summary 4 s and 178 MB. Asked: 1000 and
# 500 MB, 5 and 2 min, doubled per retry.
rule homology_figures:
    input:
        homology=paths.HOMOLOGY,
        table=paths.HOMOLOGY_TABLE,
    output:
        **figure_outputs(paths.HOMOLOGY_FIGURES, paths.HOMOLOGY_FIGURE, "{dataset} {model}", "homology"),
    log:
        paths.for_rule(paths.LOG, "homology_figures"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "homology_figures")
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/homology_figures.py"


rule homology_summary:
    input:
        tables=lambda wildcards: model_outputs(paths.HOMOLOGY_TABLE, dataset=wildcards.dataset),
        metrics=lambda wildcards: model_outputs(paths.METRICS, dataset=wildcards.dataset),
        input=paths.INPUT_HOMOLOGY,
    output:
        table=paths.SUMMARY_HOMOLOGY,
        figure=report(paths.SUMMARY_BETTI_FIGURE, caption="../report/betti_depth.rst", category="{dataset} summary"),
    params:
        settings=nnconfig.figures_slice(config, ["min_train_accuracy"]),
    log:
        paths.for_rule(paths.DATASET_LOG, "homology_summary"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "homology_summary")
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 2 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/homology_summary.py"
