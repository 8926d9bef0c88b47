"""The one source of truth for where every output lives.

Rules, scripts and tests import these patterns instead of spelling paths again. Patterns use
Snakemake's ``{wildcard}`` syntax; ``str.format`` fills them outside Snakemake. What the wildcards
may hold (model ids, architectures, layer names) is nntopo.models'.
"""

from __future__ import annotations

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

# A dataset nntopo does not read from data_dir itself is prepared once into a file of its own: the
# point clouds of known topology (disks, tori) are generated into it, and a dataset the user describes
# in the config (kinds torchvision, folder, arrays: nntopo/data/sources.py) is read, checked and scaled
# into it. DATASET_RECORD is what the prepared data is (input shape, classes, counts, scaling, source
# files and their SHA-256), written beside it so that the next run's config checks can read it
# without h5py.
DATA_FILE = RESULTS + "/{dataset}/data.h5"
DATASET_RECORD = RESULTS + "/{dataset}/dataset.json"
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
# Training with restarts (config `trials`): a trial's outcome, read from its metrics.json by the
# checkpoint that decides the next trials (TRIAL), and every seed tried per dataset with it (TRIALS).
TRIAL = MODEL_DIR + "/trial.json"
SUMMARY_TRIALS = RESULTS + "/{dataset}/summary/trials.csv"
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

# The space of first-layer filters (nntopo/weights/filters.py, rules/weights.smk).
# Per dataset and CNN architecture (a CNN's model id without its seed, e.g. cnn16x32-none), the first
# convolutional layer's kernels of every seed together: the filtered cloud, its persistence diagram and
# Mapper graph (FILTER_SPACE) and their figures, drawn by the same job.
FILTER_DIR = RESULTS + "/{dataset}/filters/{architecture}"
FILTER_SPACE = FILTER_DIR + "/space.h5"
FILTER_FIGURE = FILTER_DIR + "/{figure}.png"
FILTER_FIGURES = ("filter_diagram", "filter_graph")
FILTER_LOG = RESULTS + "/logs/{rule}/{dataset}/filters/{architecture}.log"
FILTER_BENCHMARK = RESULTS + "/benchmarks/{rule}/{dataset}/filters/{architecture}.tsv"


def fill(pattern: str, **wildcards) -> str:
    """``pattern`` with the given wildcards filled in and the others kept for Snakemake."""
    for name, value in wildcards.items():
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


def for_rule(pattern: str, rule: str) -> str:
    """A log or benchmark pattern with the rule's name filled in."""
    return fill(pattern, rule=rule)
