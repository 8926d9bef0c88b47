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
