rule cluster:
    input:
        activations=paths.ACTIVATIONS,
    output:
        paths.CLUSTERS,
    params:
        settings=lambda wildcards: nnconfig.clustering_slice(config, wildcards.method),
    log:
        paths.for_rule(paths.LAYER_METHOD_LOG, "cluster"),
    benchmark:
        paths.for_rule(paths.LAYER_METHOD_BENCHMARK, "cluster")
    # One thread: jobs run side by side, and the embeddings stay identical whatever --cores is.
    threads: 1
    priority: 1  # after training, before the seconds-long jobs (see rule train)
    # results/benchmarks/cluster (default study): at most 415 MB RSS (umap; 522 MB when numba compiles it
    # cold) and 15 s (tsne; 4 s more when numba compiles its kernel cold). Asked: 1000 MB and 5 min,
    # doubled per retry: room for a machine several times oversubscribed (t-SNE took 149 s of wall
    # for 25 s of CPU on one, with scikit-learn's slower kernel). Both grow with the analysed points
    # (rules/common.smk, points_mb and points_minutes).
    resources:
        mem_mb=points_mb(1000, 4000),
        runtime=points_minutes(5),
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/cluster.py"
