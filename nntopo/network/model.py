"""The networks (fully connected, or convolutional then fully connected; ReLU, tanh or leaky ReLU) and the
regularization presets they are trained with."""

from __future__ import annotations

import math

import torch
from torch import nn

from nntopo.store import OUTPUT_LAYER, hidden_name


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


class Network(nn.Module):
    """Input -> hidden_1 .. hidden_L -> output: ``n_classes`` values, a classifier's logits or a
    regressor's d predicted targets (a plain Linear map either way; the loss is what differs). An MLP's hidden layers are Linear maps; a CNN's
    first ``len(channels)`` are convolutions (square kernel, stride 1, no padding), each followed by
    max pooling, and the maps are flattened into its Linear hidden layers. Every hidden layer is its
    map, optional batch normalisation, the activation, then (a convolution's) pooling and optional
    dropout.

    Batch normalisation sits between the map and the activation (Ioffe and Szegedy), so a hidden
    layer's recorded activation is exactly what the next layer reads (after pooling), and silencing
    a neuron or channel (activation 0) means what it means without normalisation. Rieck et al.'s
    code normalises after the activation instead.
    """

    def __init__(self, n_inputs: int, widths: tuple[int, ...], n_classes: int = 10, dropout: float = 0.0,
                 activation: dict | None = None, batchnorm: bool = False, convolution: dict | None = None,
                 input_shape: tuple[int, ...] | None = None):
        super().__init__()
        self.activation = activation_module(activation or {"name": "relu"})
        channels = list(convolution["channels"]) if convolution else []
        # A CNN reads each flat input as channels x height x width; an MLP reads it flat.
        self.input_shape = image_input(input_shape, n_inputs) if channels else None
        self.layers = nn.ModuleDict()
        norms = {}
        for i, (a, b) in enumerate(zip([self.input_shape[0] if channels else 1, *channels], channels)):
            self.layers[hidden_name(i + 1)] = nn.Conv2d(a, b, convolution["kernel"])
            norms[hidden_name(i + 1)] = nn.BatchNorm2d(b)
        size = n_inputs
        if channels:
            size = channels[-1] * math.prod(map_sizes(convolution, self.image_shape)[-1][1])  # the last pooled maps
        for i, width in enumerate(widths, start=len(channels) + 1):
            self.layers[hidden_name(i)] = nn.Linear(size, width)
            norms[hidden_name(i)] = nn.BatchNorm1d(width)
            size = width
        self.layers[OUTPUT_LAYER] = nn.Linear(size, n_classes)
        self.norms = nn.ModuleDict(norms if batchnorm else {})
        self.pool = nn.MaxPool2d(convolution["pool"]) if channels and convolution["pool"] > 1 else nn.Identity()
        self.dropout = nn.Dropout(dropout) if dropout else nn.Identity()

    @property
    def image_shape(self) -> tuple[int, int] | None:
        """(height, width) of the images a CNN reads; None for an MLP."""
        return self.input_shape[1:] if self.input_shape else None

    def is_convolution(self, name: str) -> bool:
        return isinstance(self.layers[name], nn.Conv2d)

    def pre_activation(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Layer ``name``'s map (convolution or Linear) of what it reads."""
        layer = self.layers[name]
        return layer(x.flatten(1) if isinstance(layer, nn.Linear) else x)

    def _activate(self, name: str, z: torch.Tensor) -> torch.Tensor:
        return self.activation(self.norms[name](z) if name in self.norms else z)

    def _hidden(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Hidden layer ``name``'s activation from what it reads."""
        return self._activate(name, self.pre_activation(name, x))

    def onward(self, name: str, h: torch.Tensor) -> torch.Tensor:
        """What the layer after ``name`` reads of its activation ``h`` (pooled, after dropout)."""
        return self.dropout(self.pool(h) if self.is_convolution(name) else h)

    def logits_from(self, name: str, z: torch.Tensor) -> torch.Tensor:
        """The logits from layer ``name``'s pre-activation ``z`` (the output layer's are the logits)."""
        if name == OUTPUT_LAYER:
            return z
        return self.forward_all(self._activate(name, z), start=name)[1]

    def forward_all(self, x: torch.Tensor, start: str | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The activations of every hidden layer (after the activation function, before pooling and
        dropout: a convolutional layer's full feature maps) and the logits. ``x`` is the flattened
        input; with ``start`` (a hidden layer's name) it is that layer's activation instead, and the
        layers after it alone run (the ablation replays the network from there)."""
        names = [name for name in self.layers if name != OUTPUT_LAYER]
        if start is None:
            if self.input_shape:
                x = x.reshape(len(x), *self.input_shape)
        else:
            x = self.onward(start, x)
            names = names[names.index(start) + 1:]
        hidden = []
        for name in names:
            hidden.append(self._hidden(name, x))
            x = self.onward(name, hidden[-1])
        return hidden, self.layers[OUTPUT_LAYER](x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[1]

    def weight_matrices(self) -> list[torch.Tensor]:
        return [layer.weight for layer in self.layers.values()]

    def dense_layers(self) -> dict[str, nn.Linear]:
        """The fully connected layers (every one of an MLP; a CNN's after its convolutions)."""
        return {name: layer for name, layer in self.layers.items() if isinstance(layer, nn.Linear)}

    @torch.no_grad()
    def normalisation(self, name: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Batch normalisation of hidden layer ``name`` in eval mode as an affine map, (scale, shift)
        with normalised = scale * z + shift (per neuron or channel); None without batch normalisation."""
        if name not in self.norms:
            return None
        norm = self.norms[name]
        scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
        return scale, norm.bias - norm.running_mean * scale

    def multiply_adds(self) -> int:
        """Multiply-adds of one image's forward pass through the weights."""
        total, maps = 0, None
        if self.image_shape:
            maps = map_sizes(self.convolution, self.image_shape)
        for i, layer in enumerate(self.layers.values()):
            area = maps[i][0][0] * maps[i][0][1] if isinstance(layer, nn.Conv2d) else 1
            total += layer.weight.numel() * area
        return total

    @property
    def convolution(self) -> dict | None:
        convs = [layer for layer in self.layers.values() if isinstance(layer, nn.Conv2d)]
        if not convs:
            return None
        pool = self.pool.kernel_size if isinstance(self.pool, nn.MaxPool2d) else 1
        return {"channels": [c.out_channels for c in convs], "kernel": convs[0].kernel_size[0], "pool": pool}


MLP = Network  # a network without convolutions


def image_input(input_shape, n_inputs: int) -> tuple[int, int, int]:
    """The (channels, height, width) a CNN reads its ``n_inputs`` flat values as; an (height, width)
    is one channel (grey images, as the built-in datasets' image_shape gives them)."""
    shape = tuple(int(s) for s in input_shape or ())
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3:
        raise ValueError(f"a convolutional network reads images (channels, height, width), not inputs shaped "
                         f"{list(shape)}")
    if math.prod(shape) != n_inputs:
        raise ValueError(f"input shape {list(shape)} holds {math.prod(shape)} values, but the network reads {n_inputs}")
    return shape


def map_sizes(convolution: dict, image_shape) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Per convolutional layer, the sides of its feature maps and of its pooled maps
    (nntopo.config.feature_map_sizes, which checks them at load time)."""
    from nntopo.config import feature_map_sizes
    from nntopo.models import ModelId

    channels = tuple(convolution["channels"])
    return feature_map_sizes(ModelId(channels, "none", 0, conv=len(channels), kernel=convolution["kernel"],
                                     pool=convolution["pool"]), tuple(image_shape))


def build(n_inputs: int, n_classes: int, widths, regularization: dict, activation: dict | None = None,
          convolution: dict | None = None, input_shape=None) -> Network:
    """The untrained network; ``input_shape`` is one input's (channels, height, width) (or (height,
    width) of one channel), which a CNN needs."""
    dropout = regularization.get("p", 0.0) if regularization["name"] == "dropout" else 0.0
    return Network(n_inputs, tuple(widths), n_classes, dropout, activation, batchnorm=regularization["name"] == "batchnorm",
                   convolution=convolution, input_shape=input_shape)


def from_settings(settings: dict, n_inputs: int, n_classes: int, input_shape=None) -> Network:
    """The untrained network a training config slice describes."""
    return build(n_inputs, n_classes, settings["widths"], settings["regularization"], settings.get("activation"),
                 settings.get("convolution"), input_shape)


def load(state_path, settings: dict, n_inputs: int, n_classes: int, input_shape=None) -> Network:
    """The trained network of ``model.pt``, in eval mode on the CPU; one line naming the file when it
    does not fit the architecture its settings describe."""
    import pickle

    from nntopo.store import StoreError

    model = from_settings(settings, n_inputs, n_classes, input_shape)
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise StoreError(f"{state_path}: file does not exist") from None
    except (RuntimeError, OSError, EOFError, KeyError, TypeError, pickle.UnpicklingError) as error:
        raise StoreError(f"{state_path}: not the state dict of the network its settings describe "
                          f"({str(error).splitlines()[0]})") from None
    return model.eval()


def add_penalty_gradient(model: Network, regularization: dict) -> None:
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
