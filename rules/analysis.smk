# Do the rankings mean something? Ablation of each cluster's top neurons, agreement between
# methods, and (with several seeds) stability across training seeds.


rule ablation:
    input:
        activations=paths.ACTIVATIONS,
        weights=paths.WEIGHTS,
        clusters=paths.CLUSTERS,
        ranking=paths.RANKING,
    output:
        paths.ABLATION,
    params:
        settings=nnconfig.ablation_slice(config),
    log:
        paths.for_rule(paths.METHOD_LOG, "ablation"),
    benchmark:
        paths.for_rule(paths.METHOD_BENCHMARK, "ablation")
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 296 MB RSS and 2.2 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/ablation.py"


rule agreement:
    input:
        activations=paths.ACTIVATIONS,
        clusters=lambda wildcards: [
            paths.fill(paths.CLUSTERS, dataset=wildcards.dataset, model=wildcards.model, method=method)
            for method in config["clustering"]["methods"]
        ],
    output:
        paths.AGREEMENT,
    log:
        paths.for_rule(paths.LOG, "agreement"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "agreement")
    threads: 1
    # Measured on the default study (`benchmark:` records, and /usr/bin/time on the largest model):
    # at most 209 MB RSS and 2.2 s. Asked: 500 MB and 1 min (SLURM's unit), doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/agreement.py"


rule seed_stability:
    input:
        clusters=lambda wildcards: method_outputs(paths.CLUSTERS, dataset=wildcards.dataset),
        # The true labels of the test points, the same in every model's file.
        activations=lambda wildcards: model_outputs(paths.ACTIVATIONS, dataset=wildcards.dataset)[0],
    output:
        paths.SEED_STABILITY,
    log:
        paths.for_rule(paths.DATASET_LOG, "seed_stability"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "seed_stability")
    threads: 1
    # Not in the default study (one seed). Digits with two seeds (/usr/bin/time): 169 MB RSS and 3.2 s;
    # MNIST has 18x the test points. Asked: 1000 MB and 5 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/seed_stability.py"
