rule train:
    output:
        state=paths.MODEL_STATE,
        weights=paths.WEIGHTS,
        activations=paths.ACTIVATIONS,
        metrics=paths.METRICS,
    params:
        settings=training_settings,
    log:
        paths.for_rule(paths.LOG, "train"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "train")
    # One thread per job: two jobs x one thread train more per second than one job x two here,
    # and a fixed thread count keeps the sums, and so the weights, bit-identical.
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 20 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/train.py"
