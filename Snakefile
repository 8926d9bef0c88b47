# nntopo: train small networks, record them, cluster their activations, and look at the result.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/setup.smk"
include: "rules/common.smk"
include: "rules/targets.smk"
include: "rules/data.smk"
include: "rules/network.smk"
include: "rules/trials.smk"  # training with restarts (config trials): the kept models alone go on
include: "rules/clustering.smk"
include: "rules/analysis.smk"
include: "rules/topology.smk"
include: "rules/weights.smk"
include: "rules/figures.smk"
include: "rules/domain.smk"  # a regression on 2-D points: figures on its input domain


rule all:
    default_target: True
    input:
        # A function, called by Snakemake: with trials it waits on the trials' outcomes (checkpoints).
        lambda wildcards: all_targets(),
