# Config validation, wildcard constraints and the functions that compute targets and inputs.
import os
import sys

# The package holds the code; make it importable here and in every job's script.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))

from nntopo import config as nnconfig
from nntopo import paths

try:
    config.update(nnconfig.validate(config))
except nnconfig.ConfigError as error:
    sys.exit(f"Config error: {error}. Fix config.yaml (or the --config given); schemas/config.schema.yaml lists every key.")


wildcard_constraints:
    dataset="[a-z_]+",
    model=paths.MODEL_ID_REGEX,
    method="[a-z][a-z0-9_]*",


def model_outputs(*patterns):
    """Each pattern filled for every dataset and model of the grid."""
    return [
        paths.fill(pattern, dataset=dataset, model=model)
        for pattern in patterns
        for dataset in config["datasets"]
        for model in nnconfig.model_ids(config)
    ]


def method_outputs(*patterns):
    """Each pattern filled for every dataset, model and clustering method."""
    return [
        paths.fill(path, method=method)
        for path in model_outputs(*patterns)
        for method in config["clustering"]["methods"]
    ]


def all_targets():
    return model_outputs(paths.WEIGHTS, paths.ACTIVATIONS, paths.METRICS) + method_outputs(
        paths.CLUSTERS, paths.RANKING, paths.CLUSTER_TABLE
    )


def training_settings(wildcards):
    try:
        return nnconfig.training_slice(config, wildcards.model)
    except nnconfig.ConfigError as error:
        sys.exit(f"Config error: {error}")
