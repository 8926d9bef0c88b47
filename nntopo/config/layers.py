"""The models a study looks at on each dataset, the grid's and the external networks', and which of
their layers are analysed and whose neurons are ranked (with the slices of the stages that read those).
"""

from __future__ import annotations

from nntopo.config.external import external_entry, external_widths
from nntopo.config.grid import hidden_layers, model_ids
from nntopo.models import OUTPUT_LAYER, ModelId, hidden_name


def models_of(config: dict, dataset: str) -> list:
    """Every model studied on ``dataset``: the grid's (ModelId), then the external networks given for it
    (their names)."""
    return [*model_ids(config), *(entry["name"] for entry in config["external"] if entry["dataset"] == dataset)]


def n_hidden(config: dict, model: str | ModelId) -> int:
    """How many hidden layers ``model`` has: a grid model's from its id, an external one's from its
    ``layers`` (or its recorded file)."""
    entry = external_entry(config, str(model))
    if entry is not None:
        return len(external_widths(entry))
    return len((ModelId.parse(model) if isinstance(model, str) else model).widths)


def layers_of(config: dict, model: str | ModelId) -> list[str]:
    """The analysed layers of ``model``, in depth order: the chosen hidden layers, then the output."""

    return [hidden_name(i) for i in hidden_layers(range(n_hidden(config, model)), config["analysis"]["layers"])] + [OUTPUT_LAYER]


def ranked_layers(config: dict, model: str | ModelId, layer: str) -> list[str]:
    """Whose neurons are ranked for the clusters of ``layer``: its own for a hidden layer; for the
    output (the study's clustering), every analysed hidden layer's."""

    return layers_of(config, model)[:-1] if layer == OUTPUT_LAYER else [layer]


def ranking_slice(config: dict, model: str, layer: str) -> dict:
    """What ranking neurons reads: the layers whose neurons are ranked and k."""
    return {"layers": ranked_layers(config, model, layer), "top_k": config["clustering"]["top_k"]}


def ablation_slice(config: dict, model: str, layer: str) -> dict:
    """What the ablation reads: the layers whose top neurons are silenced, k, and the random baseline."""
    return {"layers": ranked_layers(config, model, layer), "top_k": config["clustering"]["top_k"], **config["ablation"]}
