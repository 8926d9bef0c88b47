# The data stage: the datasets the jobs read from results/{dataset}/data.h5, prepared once each. The
# point clouds of known topology are generated from the config's `shapes` (nntopo/data/shapes.py); a
# dataset the user describes (kinds torchvision, folder, arrays: docs/guides/own-data.md) is read from
# its files, checked (with the config's checks that need its facts: nntopo.config.check_known) and
# scaled (nntopo/data/prepare.py), and what was found is recorded beside it in dataset.json.


rule shape_data:
    output:
        paths.DATA_FILE,
    params:
        settings=lambda wildcards: nnconfig.shapes_slice(config, wildcards.dataset),
    wildcard_constraints:
        dataset="|".join(nnconfig.SHAPES),
    log:
        paths.for_rule(paths.DATASET_LOG, "shape_data"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "shape_data")
    threads: 1
    # 0.2 s for 10,400 points (results/benchmarks/shape_data). Asked: 500 MB and 1 min,
    # doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: 500 * attempt,
        runtime=lambda wildcards, attempt: 1 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/shape_data.py"


rule dataset_data:
    input:
        # A folder's tree or an arrays file: a newer one prepares the dataset again.
        unpack(dataset_sources),
    output:
        data=paths.DATA_FILE,
        record=paths.DATASET_RECORD,
    params:
        # Its entry with the defaults filled in: a changed entry prepares it again (and its record,
        # which keeps the entry, is stale until then).
        entry=lambda wildcards: nnconfig.dataset_slice(config, wildcards.dataset),
        # Where torchvision finds (or downloads) a torchvision dataset's files; nothing for a file or a folder
        # of the user's, so that moving the data directory prepares none of those again.
        data_dir=lambda wildcards: str(nnconfig.data_dir(config)) if reads_data_dir(wildcards.dataset) else "",
        download=lambda wildcards: config["download"] and reads_data_dir(wildcards.dataset),
    wildcard_constraints:
        dataset="|".join(nnconfig.user_datasets(config)) or "(?!)",  # none: the rule matches no file
    log:
        paths.for_rule(paths.DATASET_LOG, "dataset_data"),
    benchmark:
        paths.for_rule(paths.DATASET_BENCHMARK, "dataset_data")
    threads: 1
    # Measured on 60,000 + 10,000 colour images of 32 x 32: at most 917 MB RSS and 15 s (rules/common.smk,
    # prepare_mb). Asked: 1000 MB and the float32 size of the larger split, and 10 min, doubled per retry.
    resources:
        mem_mb=lambda wildcards, attempt: prepare_mb(wildcards.dataset) * attempt,
        runtime=lambda wildcards, attempt: 10 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/dataset_data.py"
