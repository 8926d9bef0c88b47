"""The one source of truth for where every output lives and how a model is named.

Rules, scripts and tests import these patterns instead of spelling paths again. Patterns use
Snakemake's ``{wildcard}`` syntax; ``str.format`` fills them outside Snakemake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RESULTS = "results"
MODEL_DIR = RESULTS + "/{dataset}/{model}"
# Everything computed on one analysed layer (hidden_1 .. hidden_L, or output) lives in its folder.
LAYER_DIR = MODEL_DIR + "/{layer}"

MODEL_STATE = MODEL_DIR + "/model.pt"
WEIGHTS = MODEL_DIR + "/weights.h5"
ACTIVATIONS = MODEL_DIR + "/activations.h5"
METRICS = MODEL_DIR + "/metrics.json"

CLUSTERS = LAYER_DIR + "/clusters/{method}.h5"
CLUSTER_TABLE = LAYER_DIR + "/clusters/{method}.csv"
MAPPER_GRAPH_FILE = LAYER_DIR + "/clusters/{method}.graphml"
RANKING = LAYER_DIR + "/rankings/{method}.csv"
ABLATION = LAYER_DIR + "/ablation/{method}.csv"
AGREEMENT = LAYER_DIR + "/agreement.csv"

# How the layers of one model relate: per method, each layer's partition against the next and the
# output's (FLOW) and the cluster-to-cluster counts between consecutive layers (CONTINGENCY);
# per model, the linear probe of every layer (PROBE).
FLOW = MODEL_DIR + "/flow/{method}.csv"
CONTINGENCY = MODEL_DIR + "/flow/{method}_contingency.csv"
PROBE = MODEL_DIR + "/probe.csv"

# Datasets of known topology (disks, tori) are generated once per dataset into a file of their own.
SHAPE_DATA = RESULTS + "/{dataset}/data.h5"
# Persistent homology per layer and class: the input layer once per dataset (its points and
# subsamples are then the same images in every model), every other layer per model.
INPUT_HOMOLOGY = RESULTS + "/{dataset}/homology/input.h5"
HOMOLOGY = MODEL_DIR + "/homology/homology.h5"
HOMOLOGY_TABLE = MODEL_DIR + "/homology/homology.csv"
HOMOLOGY_FIGURE = MODEL_DIR + "/homology/{figure}.png"
HOMOLOGY_FIGURES = ("persistence_diagrams", "diagram_distances")  # a model's, drawn by one job

# The space of neurons (nntopo/weights/neurons.py), per model and hidden layer (every one, analysed or
# not): the neurons' unit input weight vectors as a point cloud, its Mapper graph coloured by what each
# neuron does, and its persistence diagram (NEURON_SPACE); the figures beside it, drawn by the same job,
# and for the first hidden layer of an image dataset the graph's nodes as mean weight images.
NEURON_SPACE = LAYER_DIR + "/neurons/space.h5"
NEURON_FIGURE = LAYER_DIR + "/neurons/{figure}.png"
NEURON_FIGURES = ("neuron_graph", "neuron_diagram")
NEURON_IMAGE_FIGURES = ("neuron_filters",)

# Neural persistence of the weights: training measures it into metrics.json and weights.h5; per dataset,
# every model's through training (NP_TABLE), when each early-stopping criterion would stop (STOPPING)
# and the figure.
SUMMARY_NEURAL_PERSISTENCE = RESULTS + "/{dataset}/summary/neural_persistence.csv"
SUMMARY_EARLY_STOPPING = RESULTS + "/{dataset}/summary/early_stopping.csv"
SUMMARY_NEURAL_PERSISTENCE_FIGURE = RESULTS + "/{dataset}/summary/neural_persistence.png"

MODEL_FIGURE = MODEL_DIR + "/figures/{figure}.png"
FLOW_FIGURE = MODEL_DIR + "/figures/{method}/{figure}.png"
LAYERS_PAGE = MODEL_DIR + "/figures/{method}/layers.html"
LAYER_FIGURE = LAYER_DIR + "/figures/{figure}.png"
METHOD_FIGURE = LAYER_DIR + "/figures/{method}/{figure}.png"
MAPPER_PAGE = LAYER_DIR + "/figures/{method}/mapper.html"
SUMMARY_TABLE = RESULTS + "/{dataset}/summary/summary.csv"
SUMMARY_FIGURE = RESULTS + "/{dataset}/summary/summary.png"
SUMMARY_ABLATION = RESULTS + "/{dataset}/summary/ablation.csv"
SUMMARY_AGREEMENT = RESULTS + "/{dataset}/summary/agreement.csv"
SUMMARY_LAYERS = RESULTS + "/{dataset}/summary/layers.csv"
SUMMARY_DEPTH_FIGURE = RESULTS + "/{dataset}/summary/depth_{method}.png"
SEED_STABILITY = RESULTS + "/{dataset}/summary/seed_stability.csv"
SUMMARY_HOMOLOGY = RESULTS + "/{dataset}/summary/homology.csv"
SUMMARY_BETTI_FIGURE = RESULTS + "/{dataset}/summary/betti_depth.png"

# Logs and benchmark records of a job sit beside the results they explain, one file per job.
LOG = RESULTS + "/logs/{rule}/{dataset}/{model}.log"
METHOD_LOG = RESULTS + "/logs/{rule}/{dataset}/{model}/{method}.log"
LAYER_LOG = RESULTS + "/logs/{rule}/{dataset}/{model}/{layer}.log"
LAYER_METHOD_LOG = RESULTS + "/logs/{rule}/{dataset}/{model}/{layer}/{method}.log"
DATASET_LOG = RESULTS + "/logs/{rule}/{dataset}.log"
BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/{model}.tsv"
METHOD_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/{model}/{method}.tsv"
LAYER_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/{model}/{layer}.tsv"
LAYER_METHOD_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/{model}/{layer}/{method}.tsv"
DATASET_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}.tsv"


def fill(pattern: str, **wildcards) -> str:
    """``pattern`` with the given wildcards filled in and the others kept for Snakemake."""
    for name, value in wildcards.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


def for_rule(pattern: str, rule: str) -> str:
    """A log or benchmark pattern with the rule's name filled in."""
    return fill(pattern, rule=rule)


# A model id names the architecture, the activation function (relu, the default, is left out), the
# regularization preset and the training seed.
# - An MLP: mlp{widths joined by x}[-{activation}]-{regularization}-s{seed}, e.g. mlp1024-l2-s0,
#   mlp128x128x128x128-none-s0, mlp100-tanh-l2-s0.
# - A CNN: cnn{channels joined by x}[-k{kernel}][-p{pool}][-d{dense widths joined by x}][-{activation}]-
#   {regularization}-s{seed}; kernel 3 and pool 2 are left out: cnn16x32-none-s0, cnn16x32-k5-d128-l2-s1.
ACTIVATIONS_NAMED = ("tanh", "leaky_relu")  # the activation functions an id names; relu is implicit
DEFAULT_ACTIVATION = "relu"
DEFAULT_KERNEL, DEFAULT_POOL = 3, 2
_ACTIVATION = "|".join(ACTIVATIONS_NAMED)
_NUMBERS = "[0-9]+(?:x[0-9]+)*"
MODEL_ID_REGEX = (rf"(?:mlp{_NUMBERS}|cnn{_NUMBERS}(?:-k[0-9]+)?(?:-p[0-9]+)?(?:-d{_NUMBERS})?)"
                  rf"(?:-(?:{_ACTIVATION}))?-[a-z][a-z0-9]*-s[0-9]+")
_MODEL_ID = re.compile(rf"(?:mlp(?P<widths>{_NUMBERS})|cnn(?P<channels>{_NUMBERS})(?:-k(?P<kernel>[0-9]+))?"
                       rf"(?:-p(?P<pool>[0-9]+))?(?:-d(?P<dense>{_NUMBERS}))?)"
                       rf"(?:-(?P<act>{_ACTIVATION}))?-(?P<reg>[a-z][a-z0-9]*)-s(?P<seed>[0-9]+)")
# The layers an analysis can look at: the hidden layers, counted from 1, and the output logits.
LAYER_REGEX = r"hidden_[1-9][0-9]*|output"


def _numbers(text: str | None) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split("x")) if text else ()


@dataclass(frozen=True)
class ModelId:
    widths: tuple[int, ...]  # units of every hidden layer in order: a CNN's channels, then its dense widths
    regularization: str
    seed: int
    activation: str = DEFAULT_ACTIVATION
    conv: int = 0  # how many of the hidden layers are convolutional, first (0: an MLP)
    kernel: int = DEFAULT_KERNEL  # a CNN's square kernel, the same in every convolutional layer
    pool: int = DEFAULT_POOL  # max pooling after every convolutional layer, size = stride (1: none)

    @property
    def channels(self) -> tuple[int, ...]:
        return self.widths[:self.conv]

    @property
    def dense(self) -> tuple[int, ...]:
        """The widths of the fully connected hidden layers (all of an MLP's)."""
        return self.widths[self.conv:]

    def __str__(self) -> str:
        act = "" if self.activation == DEFAULT_ACTIVATION else f"-{self.activation}"
        return f"{self.architecture_name}{act}-{self.regularization}-s{self.seed}"

    @property
    def architecture_name(self) -> str:
        """mlp{widths} or cnn{channels}[-k..][-p..][-d..]: the layers alone."""
        if not self.conv:
            return f"mlp{'x'.join(map(str, self.widths))}"
        parts = [f"cnn{'x'.join(map(str, self.channels))}"]
        parts += [f"k{self.kernel}"] if self.kernel != DEFAULT_KERNEL else []
        parts += [f"p{self.pool}"] if self.pool != DEFAULT_POOL else []
        parts += [f"d{'x'.join(map(str, self.dense))}"] if self.dense else []
        return "-".join(parts)

    @property
    def architecture(self) -> str:
        """The id without its seed: what models trained with different seeds share."""
        return str(self).rsplit("-s", 1)[0]

    @classmethod
    def parse(cls, text: str) -> "ModelId":
        match = _MODEL_ID.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a model id of the form mlp{{widths}}[-{{activation}}]-{{reg}}-s{{seed}} "
                             f"or cnn{{channels}}[-k{{kernel}}][-p{{pool}}][-d{{widths}}][-{{activation}}]-{{reg}}-s{{seed}}")
        common = dict(regularization=match["reg"], seed=int(match["seed"]), activation=match["act"] or DEFAULT_ACTIVATION)
        if match["widths"]:
            return cls(_numbers(match["widths"]), **common)
        channels = _numbers(match["channels"])
        return cls(channels + _numbers(match["dense"]), **common, conv=len(channels),
                   kernel=int(match["kernel"] or DEFAULT_KERNEL), pool=int(match["pool"] or DEFAULT_POOL))


# A network the user brings (config `external`) is named by its `name`: lower-case letters, digits and
# underscores, never a hyphen, so that no name reads as a grid model's id (which ends in -s{seed}).
EXTERNAL_NAME_REGEX = "[a-z][a-z0-9_]*"


def is_grid_model(model) -> bool:
    """Whether ``model`` is a model id of the grid (an MLP or CNN nntopo trains), not an external name."""
    return re.fullmatch(MODEL_ID_REGEX, str(model)) is not None


def architecture_of(model) -> str:
    """What models differing only in their seed share: a grid model's id without its seed; an external
    network's name (it is its own architecture)."""
    return ModelId.parse(str(model)).architecture if is_grid_model(model) else str(model)


# --- the space of first-layer filters (nntopo/weights/filters.py, rules/filters.smk) ---------------------
# Per dataset and CNN architecture (a CNN's model id without its seed, e.g. cnn16x32-none), the first
# convolutional layer's kernels of every seed together: the filtered cloud, its persistence diagram and
# Mapper graph (FILTER_SPACE) and their figures, drawn by the same job.
ARCHITECTURE_REGEX = (rf"cnn{_NUMBERS}(?:-k[0-9]+)?(?:-p[0-9]+)?(?:-d{_NUMBERS})?"
                      rf"(?:-(?:{_ACTIVATION}))?-[a-z][a-z0-9]*")
FILTER_DIR = RESULTS + "/{dataset}/filters/{architecture}"
FILTER_SPACE = FILTER_DIR + "/space.h5"
FILTER_FIGURE = FILTER_DIR + "/{figure}.png"
FILTER_FIGURES = ("filter_diagram", "filter_graph")
FILTER_LOG = RESULTS + "/logs/{rule}/{dataset}/filters/{architecture}.log"
FILTER_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/filters/{architecture}.tsv"
# --- end of the space of first-layer filters
