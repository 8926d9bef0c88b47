# nntopo: train small networks, record them, cluster their activations, and look at the result.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/train.smk"
include: "rules/external.smk"
include: "rules/cluster.smk"
include: "rules/figures.smk"
include: "rules/analysis.smk"
include: "rules/homology.smk"
include: "rules/neurons.smk"
include: "rules/persistence.smk"
include: "rules/filters.smk"


rule all:
    default_target: True
    input:
        all_targets(),
