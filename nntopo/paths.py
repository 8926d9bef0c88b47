"""The one source of truth for where every output lives and how a model is named.

Rules, scripts and tests import these patterns instead of spelling paths again. Patterns use
Snakemake's ``{wildcard}`` syntax; ``str.format`` fills them outside Snakemake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESULTS = "results"
MODEL_DIR = RESULTS + "/{dataset}/{model}"

MODEL_STATE = MODEL_DIR + "/model.pt"
WEIGHTS = MODEL_DIR + "/weights.h5"
ACTIVATIONS = MODEL_DIR + "/activations.h5"
METRICS = MODEL_DIR + "/metrics.json"

CLUSTERS = MODEL_DIR + "/clusters/{method}.h5"
CLUSTER_TABLE = MODEL_DIR + "/clusters/{method}.csv"
RANKING = MODEL_DIR + "/rankings/{method}.csv"

ABLATION = MODEL_DIR + "/ablation/{method}.csv"
AGREEMENT = MODEL_DIR + "/agreement.csv"

MODEL_FIGURE = MODEL_DIR + "/figures/{figure}.png"
METHOD_FIGURE = MODEL_DIR + "/figures/{method}/{figure}.png"
MAPPER_PAGE = MODEL_DIR + "/figures/{method}/mapper.html"
SUMMARY_TABLE = RESULTS + "/{dataset}/summary/summary.csv"
SUMMARY_FIGURE = RESULTS + "/{dataset}/summary/summary.png"
SUMMARY_ABLATION = RESULTS + "/{dataset}/summary/ablation.csv"
SUMMARY_AGREEMENT = RESULTS + "/{dataset}/summary/agreement.csv"
SEED_STABILITY = RESULTS + "/{dataset}/summary/seed_stability.csv"

# Logs and benchmark records of a job sit beside the results they explain, one file per job.
LOG = RESULTS + "/logs/{rule}/{dataset}/{model}.log"
METHOD_LOG = RESULTS + "/logs/{rule}/{dataset}/{model}/{method}.log"
DATASET_LOG = RESULTS + "/logs/{rule}/{dataset}.log"
BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/{model}.tsv"
METHOD_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/{model}/{method}.tsv"
DATASET_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}.tsv"


def fill(pattern: str, **wildcards) -> str:
    """``pattern`` with the given wildcards filled in and the others kept for Snakemake."""
    for name, value in wildcards.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


def for_rule(pattern: str, rule: str) -> str:
    """A log or benchmark pattern with the rule's name filled in."""
    return fill(pattern, rule=rule)


# A model id names the architecture, the regularization preset and the training seed:
# mlp{widths joined by x}-{regularization}-s{seed}, e.g. mlp1024-l2-s0, mlp512x256-none-s0.
MODEL_ID_REGEX = r"mlp[0-9]+(?:x[0-9]+)*-[a-z][a-z0-9_]*-s[0-9]+"
_MODEL_ID = re.compile(r"mlp(?P<widths>[0-9]+(?:x[0-9]+)*)-(?P<reg>[a-z][a-z0-9_]*)-s(?P<seed>[0-9]+)")


@dataclass(frozen=True)
class ModelId:
    widths: tuple[int, ...]
    regularization: str
    seed: int

    def __str__(self) -> str:
        return f"mlp{'x'.join(map(str, self.widths))}-{self.regularization}-s{self.seed}"

    @classmethod
    def parse(cls, text: str) -> "ModelId":
        match = _MODEL_ID.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a model id of the form mlp{{widths}}-{{reg}}-s{{seed}}")
        widths = tuple(int(w) for w in match["widths"].split("x"))
        return cls(widths, match["reg"], int(match["seed"]))
