# Figures are drawn in batches: all of a model's (model_figures), all of a (model, method) pair's
# (method_figures), and the graph's for methods that make one (graph_figures). A job's start-up costs
# ~1 s and drawing a figure ~0.3 s, so one job per figure spent most of the study's figure time
# starting Python. Naming one figure's path still builds exactly one job; each figure's settings are
# its own params entry, so a config change reruns only the batches that hold an affected figure.
rule model_figures:
    input:
        unpack(lambda wildcards: figure_inputs(figures.MODEL_FIGURES, wildcards)),
    output:
        **figure_outputs(figures.MODEL_FIGURES, paths.MODEL_FIGURE, "model"),
    params:
        settings=figure_settings(figures.MODEL_FIGURES),
    log:
        paths.for_rule(paths.LOG, "model_figures"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "model_figures")
    threads: 1
    # Measured on the default study (`benchmark:` records), for all three rules: at most 258 MB RSS
    # and 3.6 s (method_figures). Asked: 500 MB and 2 min (SLURM's unit is the minute), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 2 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/figures.py"


use rule model_figures as method_figures with:
    input:
        unpack(lambda wildcards: figure_inputs(figures.METHOD_FIGURES, wildcards)),
    output:
        **figure_outputs(figures.METHOD_FIGURES, paths.METHOD_FIGURE, "{method}"),
    params:
        settings=figure_settings(figures.METHOD_FIGURES),
    log:
        paths.for_rule(paths.METHOD_LOG, "method_figures"),
    benchmark:
        paths.for_rule(paths.METHOD_BENCHMARK, "method_figures")


use rule method_figures as graph_figures with:
    input:
        unpack(lambda wildcards: figure_inputs(figures.GRAPH_FIGURES, wildcards)),
    output:
        **figure_outputs(figures.GRAPH_FIGURES, paths.METHOD_FIGURE, "{method}"),
    params:
        settings=figure_settings(figures.GRAPH_FIGURES),
    log:
        paths.for_rule(paths.METHOD_LOG, "graph_figures"),
    benchmark:
        paths.for_rule(paths.METHOD_BENCHMARK, "graph_figures")


rule mapper_page:
    input:
        **figures.figure_inputs({"page": figures.MAPPER_PAGE}, config, "{dataset}", "{model}", "{method}"),
    output:
        report(
            paths.MAPPER_PAGE,
            caption="../report/mapper_page.rst",
            category="{dataset} {model}",
            subcategory="{method}",
        ),
    params:
        settings=nnconfig.figures_slice(config, figures.MAPPER_PAGE.settings),
    log:
        paths.for_rule(paths.METHOD_LOG, "mapper_page"),
    benchmark:
        paths.for_rule(paths.METHOD_BENCHMARK, "mapper_page")
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 239 MB RSS and 4.3 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/mapper_page.py"


rule summary:
    input:
        metrics=lambda wildcards: model_outputs(paths.METRICS, dataset=wildcards.dataset),
        activations=lambda wildcards: model_outputs(paths.ACTIVATIONS, dataset=wildcards.dataset),
        agreements=lambda wildcards: model_outputs(paths.AGREEMENT, dataset=wildcards.dataset),
        clusters=lambda wildcards: method_outputs(paths.CLUSTERS, dataset=wildcards.dataset),
        rankings=lambda wildcards: method_outputs(paths.RANKING, dataset=wildcards.dataset),
        ablations=lambda wildcards: method_outputs(paths.ABLATION, dataset=wildcards.dataset),
    output:
        table=paths.SUMMARY_TABLE,
        figure=report(
            paths.SUMMARY_FIGURE,
            caption="../report/summary.rst",
            category="{dataset} summary",
        ),
        ablation=paths.SUMMARY_ABLATION,
        agreement=paths.SUMMARY_AGREEMENT,
    params:
        settings=lambda wildcards: {
            "dataset": wildcards.dataset,
            "layer": config["clustering"]["layer"],
            "top_k": config["clustering"]["top_k"],
            "alpha": config["ablation"]["alpha"],
        },
    log:
        paths.for_rule(paths.DATASET_LOG, "summary"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "summary")
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 209 MB RSS and 2.4 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/summary.py"
