"""A fully connected network (ReLU, tanh or leaky ReLU) and the regularization presets it is trained with."""

from __future__ import annotations

import torch
from torch import nn

from nntopo.layout import OUTPUT_LAYER, hidden_name


def activation_module(spec: dict) -> nn.Module:
    """The torch module of an activation spec (nntopo.network.activation defines the same in numpy)."""
    name = spec["name"]
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    if name == "leaky_relu":
        return nn.LeakyReLU(spec["slope"])
    raise ValueError(f"unknown activation {name!r}")


class MLP(nn.Module):
    """Input -> hidden_1 .. hidden_L (Linear, optional batch normalisation, activation, optional dropout)
    -> output logits.

    Batch normalisation sits between the Linear map and the activation (Ioffe and Szegedy), so a
    hidden layer's recorded activation is exactly what the next layer reads, and silencing a neuron
    (activation 0) means what it means without normalisation. Rieck et al.'s code normalises after
    the activation instead.
    """

    def __init__(self, n_inputs: int, widths: tuple[int, ...], n_classes: int = 10, dropout: float = 0.0,
                 activation: dict | None = None, batchnorm: bool = False):
        super().__init__()
        self.activation = activation_module(activation or {"name": "relu"})
        sizes = [n_inputs, *widths]
        self.layers = nn.ModuleDict({hidden_name(i + 1): nn.Linear(a, b) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))})
        self.layers[OUTPUT_LAYER] = nn.Linear(sizes[-1], n_classes)
        self.norms = nn.ModuleDict({hidden_name(i + 1): nn.BatchNorm1d(width) for i, width in enumerate(widths)}
                                   if batchnorm else {})
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    def forward_all(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The activations of every hidden layer (after the activation, before dropout) and the logits."""
        hidden = []
        for name, layer in self.layers.items():
            if name == OUTPUT_LAYER:
                break
            x = layer(x)
            if name in self.norms:
                x = self.norms[name](x)
            x = self.activation(x)
            hidden.append(x)
            x = self.dropout(x)
        return hidden, self.layers[OUTPUT_LAYER](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[1]

    def weight_matrices(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.layers.values()]

    @torch.no_grad()
    def normalisation(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Batch normalisation of hidden layer ``name`` in eval mode as an affine map, (scale, shift)
        with normalised = scale * z + shift; None without batch normalisation."""
        if name not in self.norms:
            return None
        norm = self.norms[name]
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        return scale, norm.bias - norm.running_mean * scale


def build(n_inputs: int, n_classes: int, widths, regularization: dict, activation: dict | None = None) -> MLP:
    dropout = regularization.get("p", 0.0) if regularization["name"] == "dropout" else 0.0
    return MLP(n_inputs, tuple(widths), n_classes, dropout, activation, batchnorm=regularization["name"] == "batchnorm")


def add_penalty_gradient(model: MLP, regularization: dict) -> None:
    """Add to the weights' gradients that of the penalty: L2, strength x sum of squares (2 s w), or L1,
    strength x sum of absolute values (s sign(w)).

    The same update as putting the penalty in the loss, without building and differentiating it
    (18% of a 1024-wide training step). Biases are left free, as is usual: penalising them shifts
    activations without simplifying anything.
    """
    name = regularization["name"]
    if name == "l2":
        for w in model.weight_matrices():
            w.grad.add_(w.detach(), alpha=2 * regularization["strength"])
    elif name == "l1":
        for w in model.weight_matrices():
            w.grad.add_(w.detach().sign(), alpha=regularization["strength"])
