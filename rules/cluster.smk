rule cluster:
    input:
        activations=paths.ACTIVATIONS,
    output:
        paths.CLUSTERS,
    params:
        settings=lambda wildcards: nnconfig.clustering_slice(config, wildcards.method),
    log:
        paths.for_rule(paths.METHOD_LOG, "cluster"),
    benchmark:
        paths.for_rule(paths.METHOD_BENCHMARK, "cluster")
    # One thread: jobs run side by side, and the embeddings stay identical whatever --cores is.
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 2000 * attempt,
        runtime=lambda wildcards, attempt: 15 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/cluster.py"


rule rank:
    input:
        activations=paths.ACTIVATIONS,
        clusters=paths.CLUSTERS,
    output:
        ranking=paths.RANKING,
        table=paths.CLUSTER_TABLE,
    params:
        settings=lambda wildcards: nnconfig.ranking_slice(config),
    log:
        paths.for_rule(paths.METHOD_LOG, "rank"),
    threads: 1
    resources:
        mem_mb=lambda wildcards, attempt: 1000 * attempt,
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/rank.py"
