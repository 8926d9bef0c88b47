rule model_figure:
    input:
        unpack(lambda wildcards: figure_inputs(figures.MODEL_FIGURES, wildcards)),
    output:
        report(
            paths.MODEL_FIGURE,
            caption="../report/model_figure.rst",
            category="{dataset} {model}",
            subcategory="model",
        ),
    params:
        settings=lambda wildcards: figure_settings(figures.MODEL_FIGURES, wildcards),
    log:
        paths.for_rule(paths.MODEL_FIGURE_LOG, "model_figure"),
    benchmark:
        paths.for_rule(paths.MODEL_FIGURE_BENCHMARK, "model_figure")
    wildcard_constraints:
        figure="|".join(figures.MODEL_FIGURES),
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 187 MB RSS and 2.2 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/model_figure.py"


rule method_figure:
    input:
        unpack(lambda wildcards: figure_inputs(method_figures(wildcards.method), wildcards)),
    output:
        report(
            paths.METHOD_FIGURE,
            caption="../report/method_figure.rst",
            category="{dataset} {model}",
            subcategory="{method}",
        ),
    params:
        settings=lambda wildcards: figure_settings(method_figures(wildcards.method), wildcards),
    log:
        paths.for_rule(paths.METHOD_FIGURE_LOG, "method_figure"),
    benchmark:
        paths.for_rule(paths.METHOD_FIGURE_BENCHMARK, "method_figure")
    wildcard_constraints:
        figure="|".join({**figures.METHOD_FIGURES, **figures.GRAPH_FIGURES}),
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 237 MB RSS and 4.6 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/method_figure.py"


rule mapper_page:
    input:
        **{name: INPUT_PATTERNS[name] for name in figures.MAPPER_PAGE.needs},
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
