# Training with restarts (config `trials`, nntopo/workflow/trials.py): each trial is a seed's training
# job; the checkpoint below reads its outcome, and the input functions of rules/common.smk (trial_plans)
# then ask for the next wave or settle on the kept seeds, which alone are measured. Without trials no
# job of these rules is asked for.


checkpoint trial:
    input:
        metrics=paths.METRICS,
    output:
        paths.TRIAL,
    wildcard_constraints:
        model=nnmodels.MODEL_ID_REGEX,
    log:
        paths.for_rule(paths.LOG, "trial"),
    threads: 1
    # Reads one JSON file: on the machine that runs Snakemake, not as a cluster job.
    localrule: True
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/trial.py"


rule trials_summary:
    input:
        trials=lambda wildcards: trial_records(wildcards.dataset),
    output:
        paths.SUMMARY_TRIALS,
    params:
        settings=config.get("trials"),
    log:
        paths.for_rule(paths.DATASET_LOG, "trials_summary"),
    threads: 1
    localrule: True
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/trials_summary.py"
