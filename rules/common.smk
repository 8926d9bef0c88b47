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


def model_outputs(pattern):
    """``pattern`` filled for every dataset and model of the grid."""
    return [
        pattern.format(dataset=dataset, model=model)
        for dataset in config["datasets"]
        for model in nnconfig.model_ids(config)
    ]


def all_targets():
    return model_outputs(paths.WEIGHTS) + model_outputs(paths.ACTIVATIONS) + model_outputs(paths.METRICS)


def training_settings(wildcards):
    try:
        return nnconfig.training_slice(config, wildcards.model)
    except nnconfig.ConfigError as error:
        sys.exit(f"Config error: {error}")
