# Networks the user brings (config `external`, nntopo/network/external.py): one job per network runs it
# on its dataset's test images with hooks on the named modules (or takes the activations it was
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
            **shape_data(entry["dataset"]),
        output:
            activations=paths.fill(paths.ACTIVATIONS, **where),
            metrics=paths.fill(paths.METRICS, **where),
            **({"weights": paths.fill(paths.WEIGHTS, **where)} if writes_weights else {}),
        params:
            # Its entry and its files' SHA-256: a changed file reruns this network and what depends on it.
            settings=nnconfig.external_slice(config, entry["name"]),
            neural_persistence=config["neural_persistence"],
        log:
            paths.fill(paths.for_rule(paths.LOG, "external"), **where),
        benchmark:
            paths.fill(paths.for_rule(paths.BENCHMARK, "external"), **where)
        threads: 1
        # The worked example (README): 3.4 s and 656 MB (most of it importing torch). Asked: 2000 MB and 10 min,
        # doubled per retry (a user's network may be larger than any of ours).
        resources:
            mem_mb=lambda wildcards, attempt: 2000 * attempt,
            runtime=lambda wildcards, attempt: 10 * attempt,
        conda:
            "../envs/nntopo.yaml"
        script:
            "../scripts/external.py"
