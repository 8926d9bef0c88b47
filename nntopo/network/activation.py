"""The activation functions of the hidden layers, in numpy: the one definition that replays a
network from its recorded weights (ablation) uses, and that the torch model is checked against.

For all three, f(z) > 0 exactly when z > 0, so "active" (a neuron counts for a point's top-k)
means the same thing for each: the neuron's pre-activation is positive.
"""

from __future__ import annotations

import numpy as np

NAMES = ("relu", "tanh", "leaky_relu")


def check(spec: dict) -> dict:
    """``spec`` ({"name": ..., "slope": ...}) with its name known; ValueError otherwise."""
    if spec.get("name") not in NAMES:
        raise ValueError(f"unknown activation {spec.get('name')!r}; choose from: {', '.join(NAMES)}")
    return spec


def apply(spec: dict, z: np.ndarray) -> np.ndarray:
    """f(z) for the activation ``spec`` names (leaky_relu: z if z > 0 else slope * z)."""
    name = check(spec)["name"]
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "tanh":
        return np.tanh(z)
    return np.where(z > 0, z, spec["slope"] * z)


def of_settings(settings: dict) -> dict:
    """The activation of a training config slice; files written before activations were a choice are relu."""
    return settings.get("activation", {"name": "relu"})
