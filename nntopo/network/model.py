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


class FixedBatchNorm(nn.BatchNorm1d):
    """Batch normalisation whose statistics stay at their start, mean 0 and variance 1, in training as
    in eval: the learned affine map gamma * x / sqrt(1 + eps) + beta. This is what TF1's
    tf.layers.batch_normalization computes when called with its default training=False, as Rieck et
    al.'s code calls it (src/model_definitions.py:15): it normalises with the moving averages and makes
    no op that updates them. The buffers are BatchNorm's, so the state dict and ``normalisation`` read
    the same; it takes (N, C) and (N, C, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0,
                                        self.eps)


BEFORE, AFTER = "before_activation", "after_activation"


def norm_module(width: int, options: dict, convolution: bool) -> nn.Module:
    """A hidden layer's batch normalisation as ``regularization.batchnorm``'s options ask."""
    eps = options.get("epsilon", 1e-5)
    if options.get("statistics") == "fixed":
        return FixedBatchNorm(width, eps=eps)
    return (nn.BatchNorm2d if convolution else nn.BatchNorm1d)(width, eps=eps)


class Network(nn.Module):
    """Input -> hidden_1 .. hidden_L -> output: ``n_classes`` values, a classifier's logits or a
    regressor's d predicted targets (a plain Linear map either way; the loss is what differs). An MLP's hidden layers are Linear maps; a CNN's
    first ``len(channels)`` are convolutions (square kernel, stride 1, no padding), each followed by
    max pooling, and the maps are flattened into its Linear hidden layers. Every hidden layer is its
    map, optional batch normalisation, the activation, then (a convolution's) pooling and optional
    dropout.

    Batch normalisation sits between the map and the activation (Ioffe and Szegedy), so a hidden
    layer's recorded activation is exactly what the next layer reads (after pooling), and silencing
    a neuron or channel (activation 0) means what it means without normalisation. ``batchnorm``'s
    position after_activation (Rieck et al.'s code) normalises the activation instead: the recorded
    activation is still the activation's output, and the normalisation is part of what the next layer
    reads (``onward``), so silencing a neuron still sets its activation to 0.
    """

    def __init__(self, n_inputs: int, widths: tuple[int, ...], n_classes: int = 10, dropout: float = 0.0,
                 activation: dict | None = None, batchnorm: bool | dict = False, convolution: dict | None = None,
                 input_shape: tuple[int, ...] | None = None):
        super().__init__()
        options = batchnorm if isinstance(batchnorm, dict) else {}
        self.norm_after = options.get("position") == AFTER
        self.activation = activation_module(activation or {"name": "relu"})
        channels = list(convolution["channels"]) if convolution else []
        # A CNN reads each flat input as channels x height x width; an MLP reads it flat.
        self.input_shape = image_input(input_shape, n_inputs) if channels else None
        self.layers = nn.ModuleDict()
        norms = {}
        for i, (a, b) in enumerate(zip([self.input_shape[0] if channels else 1, *channels], channels)):
            self.layers[hidden_name(i + 1)] = nn.Conv2d(a, b, convolution["kernel"])
            norms[hidden_name(i + 1)] = norm_module(b, options, convolution=True)
        size = n_inputs
        if channels:
            size = channels[-1] * math.prod(map_sizes(convolution, self.image_shape)[-1][1])  # the last pooled maps
        for i, width in enumerate(widths, start=len(channels) + 1):
            self.layers[hidden_name(i)] = nn.Linear(size, width)
            norms[hidden_name(i)] = norm_module(width, options, convolution=False)
            size = width
        self.layers[OUTPUT_LAYER] = nn.Linear(size, n_classes)
        self.norms = nn.ModuleDict(norms if batchnorm else {})
        if self.norm_after and channels:
            raise ValueError("batch normalisation after the activation is for fully connected networks")
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
        return self.activation(self.norms[name](z) if name in self.norms and not self.norm_after else z)

    def _hidden(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Hidden layer ``name``'s activation from what it reads."""
        return self._activate(name, self.pre_activation(name, x))

    def onward(self, name: str, h: torch.Tensor) -> torch.Tensor:
        """What the layer after ``name`` reads of its activation ``h`` (normalised when batch normalisation
        comes after the activation, pooled, after dropout)."""
        if self.norm_after and name in self.norms:
            h = self.norms[name](h)
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
        with normalised = scale * z + shift (per neuron or channel; z the map's output, or the
        activation's with ``norm_after``); None without batch normalisation."""
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
    # The preset's options (position, statistics, epsilon), or True for the default normalisation
    batchnorm = regularization["name"] == "batchnorm" and ({k: v for k, v in regularization.items() if k != "name"} or True)
    return Network(n_inputs, tuple(widths), n_classes, dropout, activation, batchnorm=batchnorm,
                   convolution=convolution, input_shape=input_shape)


def initialise(model: Network, scheme: str | None) -> None:
    """Draw the weights and biases as ``training.init`` asks (torch's own when absent: left as built).

    glorot_uniform: weights uniform in +-sqrt(6 / (fan_in + fan_out)), biases zero (tf.layers.dense's
    defaults, which Naitzat et al.'s estimators/nn_simple.py keeps). glorot_uniform_with_bias: the bias
    is one more input row of the weight matrix, and that (fan_in + 1) x fan_out matrix is Glorot uniform
    (Rieck et al.'s src/model_definitions.py:52-58 pads the input with a 1 and initialises the padded
    matrix with xavier_initializer); the draws come from torch's generator, seeded by the model's seed."""
    if scheme in (None, "torch"):
        return
    with torch.no_grad():
        for layer in model.layers.values():
            if scheme == "glorot_uniform":
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
            elif scheme == "glorot_uniform_with_bias":
                fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                bound = math.sqrt(6 / (fan_in + 1 + fan_out))
                nn.init.uniform_(layer.weight, -bound, bound)
                nn.init.uniform_(layer.bias, -bound, bound)
            else:
                raise ValueError(f"unknown initialisation {scheme!r}")


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
