rule train:
    input:
        unpack(dataset_inputs),
    output:
        state=paths.MODEL_STATE,
        weights=paths.WEIGHTS,
        activations=paths.ACTIVATIONS,
        metrics=paths.METRICS,
    params:
        settings=training_settings,
    wildcard_constraints:
        model=nnmodels.MODEL_ID_REGEX,  # the grid's; an external network's files are rules/external.smk's
    log:
        paths.for_rule(paths.LOG, "train"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "train")
    # One thread per job: two jobs x one thread train more per second than one job x two here,
    # and a fixed thread count keeps the sums, and so the weights, bit-identical.
    threads: 1
    # The long jobs first (training, then clustering; everything after them takes seconds), so the
    # study does not end on one core with a late model's t-SNE while the other core idles.
    priority: 2
    # results/benchmarks/train (default study, real MNIST, 2 jobs on 2 cores): at most 995 MB RSS and
    # 41 s (mlp1024, 15 epochs). Asked: 2000 MB and 10 min, doubled at each retry (`attempt`).
    # `device: cuda` asks SLURM for one GPU (--gpus=1, which training then uses) and 2000 MB more for
    # CUDA's libraries (an estimate: no GPU was at hand to measure).
    resources:
        mem_mb=lambda wildcards, attempt: (4000 if config["device"] == "cuda" else 2000) * attempt,
        runtime=lambda wildcards, attempt: 10 * attempt,
        gpu=1 if config["device"] == "cuda" else 0,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/train.py"
