"""Load and check the workflow configuration; compute the model grid and each job's config slice.

Call sites read ``from nntopo import config as nnconfig`` ... ``nnconfig.model_ids(config)``; the
package re-exports its modules' API:

- schema: the schema's defaults and errors (ConfigError), reading a config file, the data directory;
- cnn: the grid's CNNs' feature maps, and whether they fit a dataset's images;
- grid: the grid's architectures and model ids, the analysed points of each dataset, each job's slice;
- data: the study's datasets, each entry's checks, and the checks that need a dataset's facts;
- external: the networks the user brings, their files and checks;
- layers: the models studied on a dataset and their analysed and ranked layers.

The dataset facts are nntopo.datasets', the model ids' grammar nntopo.models'. Imported by the
Snakefile, so it stays light: no torch, no numpy.
"""

from __future__ import annotations

import os

from nntopo import datasets
from nntopo.config import schema
from nntopo.config.cnn import describe_architecture, feature_map_sizes
from nntopo.config.data import check_datasets, check_known, has_images
from nntopo.config.external import (EXTERNAL_KINDS, RESERVED_NAMES, check_external, external_entry,
                                    external_files, external_kind, external_slice, external_widths, has_weights)
from nntopo.config.grid import (analysed_points, architectures, check_grid, check_methods, check_training,
                                clustering_slice, convolutional_layers, dataset_names, dataset_slice, describe_points,
                                figures_slice, filters_slice, hidden_layers, homology_slice, model_ids, n_points,
                                n_test_points, neurons_slice, points_slice, seeds, shapes_slice, smallest_analysed,
                                smallest_class, training_minutes, training_slice, widths_of)
from nntopo.config.layers import ablation_slice, layers_of, models_of, n_hidden, ranked_layers, ranking_slice
from nntopo.config.trials import check_trials
from nntopo.config.schema import DATA_DIR_ENV, SCHEMA_PATH, ConfigError, check_data_dir, data_dir, load_schema

SHAPES = datasets.names(kind="shape")  # the datasets generated into results/{dataset}/data.h5 (the rules ask)


def is_prepared(config: dict, dataset: str) -> bool:
    """Whether the jobs read ``dataset`` from results/{dataset}/data.h5 (a shape's, or a user's dataset)."""
    return dataset in datasets.names(config, datasets.PREPARED_KINDS)


def user_datasets(config: dict) -> tuple[str, ...]:
    """The study's datasets that the user describes (prepared by rule dataset_data)."""
    return datasets.names(config, datasets.USER_KINDS)


def validate(config: dict | None) -> dict:
    """Return a checked copy of ``config`` with every default filled in, or raise ConfigError: the
    schema first, then what it cannot say, in this order (the first error is the one reported); last
    the checks that need each dataset's facts, for every dataset whose facts are known."""
    config = schema.apply(config)
    try:
        check_datasets(config)
        check_grid(config)
        check_external(config)
        check_training(config)
        check_trials(config)
        check_methods(config)
        for info in datasets.of(config).values():
            check_known(config, info)
    except datasets.DatasetError as error:  # what a look at a dataset's files told
        raise ConfigError(str(error)) from None
    return config


def load(path: str | os.PathLike) -> dict:
    """The config file at ``path``, validated."""
    return validate(schema.read(path))


__all__ = [
    "SHAPES", "is_prepared", "user_datasets", "validate", "load",
    "DATA_DIR_ENV", "SCHEMA_PATH", "ConfigError", "check_data_dir", "data_dir", "load_schema",
    "describe_architecture", "feature_map_sizes",
    "check_datasets", "check_known", "has_images",
    "analysed_points", "architectures", "clustering_slice", "convolutional_layers", "dataset_names", "dataset_slice",
    "describe_points", "figures_slice", "filters_slice", "hidden_layers", "homology_slice", "model_ids", "n_points",
    "n_test_points", "neurons_slice", "points_slice", "seeds", "shapes_slice", "smallest_analysed", "smallest_class",
    "training_minutes", "training_slice", "widths_of",
    "EXTERNAL_KINDS", "RESERVED_NAMES", "external_entry", "external_files", "external_kind",
    "external_slice", "external_widths", "has_weights",
    "ablation_slice", "layers_of", "models_of", "n_hidden", "ranked_layers", "ranking_slice",
]
