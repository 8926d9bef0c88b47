"""The store: the layout of every file the workflow writes, and the only code that reads or writes them.

Files describe themselves: datasets are named for what they hold, and root attributes carry the
provenance (dataset, model id, seed, the config slice as JSON, package versions). Writers go through
``atomic`` so that a crash never leaves a file that looks complete; readers check names, shapes and
dtypes and say what is wrong with a foreign file (``StoreError``).

One module per file kind; call sites read ``from nntopo import store`` ... ``store.read_weights(path)``:

- ``hdf5``: what every file shares: layer names, provenance, ``atomic``, the strict readers, diagrams
- ``weights``: weights.h5 (``Layer``) and its neural persistence through training
- ``activations``: activations.h5
- ``clusters``: clusters/{method}.h5
- ``graph``: the Mapper graph group that clusters, neuron and filter spaces each hold
- ``points``: a prepared dataset's data.h5 (a shape's, or a dataset the user describes)
- ``homology``: homology.h5
- ``rankings``: rankings/{method}.csv
- ``neurons``: a layer's neurons/space.h5 (``NeuronSpace``)
- ``filters``: an architecture's filters/space.h5 (``FilterSpace``)
- ``metrics``: a model's metrics.json
"""

from nntopo.store.activations import Activations, hidden_widths, read_activations, write_activations
from nntopo.store.clusters import (MAPPER_ARRAYS, MAPPER_GRAPH_ARRAYS, MAPPER_GROUP, MAPPER_POSITIONS, Clusters,
                                   read_clusters, write_clusters)
from nntopo.store.filters import (FILTER_ARRAYS, FILTER_DIAGRAM_GROUP, FILTER_GRAPH_ARRAYS, FILTER_GRAPH_GROUP,
                                  FilterSpace, read_filter_space, write_filter_space)
from nntopo.store.graph import GRAPH_GROUP, NODE_ARRAYS
from nntopo.store.hdf5 import (INPUT_LAYER, OUTPUT_LAYER, PACKAGES, StoreError, atomic, carried, hidden_name,
                               layer_names, provenance, read_attrs, versions)
from nntopo.store.homology import ClassHomology, Homology, read_homology, write_homology
from nntopo.store.metrics import read_metrics, write_metrics
from nntopo.store.neurons import (NEURON_ARRAYS, NEURON_DIAGRAM_GROUP, NEURON_GRAPH_ARRAYS, NEURON_GRAPH_GROUP,
                                  NEURON_NODE_VALUES, NEURON_TOP_K, NeuronSpace, read_neuron_space,
                                  write_neuron_space)
from nntopo.store.points import (DATA_ARRAYS, SHAPE_ARRAYS, DataWriter, data_writer, read_data, read_shape_data,
                                 write_shape_data)
from nntopo.store.rankings import RANKING_COLUMNS, read_rankings
from nntopo.store.weights import (NEURAL_PERSISTENCE_GROUP, NEURAL_PERSISTENCE_MEASURES, NORMALISATION, Layer,
                                  PersistenceHistory, check_chain, neural_persistence_writer, read_neural_persistence,
                                  read_weights, write_weights)

__all__ = [
    # hdf5
    "INPUT_LAYER", "OUTPUT_LAYER", "PACKAGES", "StoreError", "atomic", "carried", "hidden_name", "layer_names",
    "provenance", "read_attrs", "versions",
    # weights
    "NEURAL_PERSISTENCE_GROUP", "NEURAL_PERSISTENCE_MEASURES", "NORMALISATION", "Layer", "PersistenceHistory",
    "check_chain", "neural_persistence_writer", "read_neural_persistence", "read_weights", "write_weights",
    # activations
    "Activations", "hidden_widths", "read_activations", "write_activations",
    # clusters and the graph group
    "GRAPH_GROUP", "NODE_ARRAYS", "MAPPER_ARRAYS", "MAPPER_GRAPH_ARRAYS", "MAPPER_GROUP", "MAPPER_POSITIONS",
    "Clusters", "read_clusters", "write_clusters",
    # points
    "DATA_ARRAYS", "SHAPE_ARRAYS", "DataWriter", "data_writer", "read_data", "read_shape_data", "write_shape_data",
    # homology
    "ClassHomology", "Homology", "read_homology", "write_homology",
    # rankings
    "RANKING_COLUMNS", "read_rankings",
    # neurons
    "NEURON_ARRAYS", "NEURON_DIAGRAM_GROUP", "NEURON_GRAPH_ARRAYS", "NEURON_GRAPH_GROUP", "NEURON_NODE_VALUES",
    "NEURON_TOP_K", "NeuronSpace", "read_neuron_space", "write_neuron_space",
    # filters
    "FILTER_ARRAYS", "FILTER_DIAGRAM_GROUP", "FILTER_GRAPH_ARRAYS", "FILTER_GRAPH_GROUP", "FilterSpace",
    "read_filter_space", "write_filter_space",
    # metrics
    "read_metrics", "write_metrics",
]
