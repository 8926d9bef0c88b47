# The networks (nntopo/network): the grid's, trained here, and the ones the user brings, recorded
# here; both write the files a model's folder holds (activations, metrics, weights).


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
        points=nnconfig.points_slice(config),  # which points are recorded
    wildcard_constraints:
        model=nnmodels.MODEL_ID_REGEX,  # the grid's; an external network's files are its own rule's (below)
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
    # 41 s (mlp1024, 15 epochs). Asked: 2000 MB and 10 min or more for a long training
    # (rules/common.smk, training_minutes), doubled at each retry (`attempt`); the memory grows with
    # the points recorded (points_mb).
    # `device: cuda` asks SLURM for one GPU (--gpus=1, which training then uses) and 2000 MB more for
    # CUDA's libraries (an estimate: no GPU was at hand to measure).
    resources:
        mem_mb=points_mb(4000, 5000) if config["device"] == "cuda" else points_mb(2000, 3000),
        runtime=training_minutes,
        gpu=1 if config["device"] == "cuda" else 0,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/train.py"


# Networks the user brings (config `external`, nntopo/network/external.py): one job per network runs it
# on its dataset's analysed points with hooks on the named modules (or takes the activations it was
# recorded with) and writes the files a trained model's folder holds; everything after training then
# treats it as any model. One rule per network, since whether it writes weights.h5 is its own.
for entry in config["external"]:
    where = dict(dataset=entry["dataset"], model=entry["name"])
    writes_weights = nnconfig.has_weights(config, entry["name"])

    rule:
        name:
            f"external_{entry['name']}"
        input:
            files=nnconfig.external_files(entry),
            **dataset_file(entry["dataset"]),
        output:
            activations=paths.fill(paths.ACTIVATIONS, **where),
            metrics=paths.fill(paths.METRICS, **where),
            **({"weights": paths.fill(paths.WEIGHTS, **where)} if writes_weights else {}),
        params:
            # Its entry and its files' SHA-256: a changed file reruns this network and what depends on it.
            settings=nnconfig.external_slice(config, entry["name"]),
            neural_persistence=config["neural_persistence"],
            points=nnconfig.points_slice(config),  # which points are recorded
        log:
            paths.fill(paths.for_rule(paths.LOG, "external"), **where),
        benchmark:
            paths.fill(paths.for_rule(paths.BENCHMARK, "external"), **where)
        threads: 1
        # The worked example (docs/guides/own-network.md): 3.4 s and 656 MB (most of it importing torch). Asked: 2000 MB and 10 min,
        # growing with the points recorded, doubled per retry (a user's network may be larger than any of ours).
        resources:
            mem_mb=points_mb(2000, 4000, entry["dataset"]),
            runtime=lambda wildcards, attempt: 10 * attempt,
        conda:
            "../envs/nntopo.yaml"
        script:
            "../scripts/external.py"
