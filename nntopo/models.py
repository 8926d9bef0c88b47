"""How a model is named: the grammar of the grid's model ids (ModelId), of architectures (an id without its
seed) and of the external networks' names, and the layer names an analysis looks at.

Path patterns (nntopo.paths) and the Snakefile's wildcard constraints use these regexes; everything
that reads a model's layers from its name parses it here. Light: the Snakefile imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A model id names the architecture, the activation function (relu, the default, is left out), the
# regularization preset and the training seed.
# - An MLP: mlp{widths joined by x}[-{activation}]-{regularization}-s{seed}, e.g. mlp1024-l2-s0,
#   mlp128x128x128x128-none-s0, mlp100-tanh-l2-s0.
# - A CNN: cnn{channels joined by x}[-k{kernel}][-p{pool}][-d{dense widths joined by x}][-{activation}]-
#   {regularization}-s{seed}; kernel 3 and pool 2 are left out: cnn16x32-none-s0, cnn16x32-k5-d128-l2-s1.
ACTIVATIONS_NAMED = ("tanh", "leaky_relu")  # the activation functions an id names; relu is implicit
DEFAULT_ACTIVATION = "relu"
DEFAULT_KERNEL, DEFAULT_POOL = 3, 2
_ACTIVATION = "|".join(ACTIVATIONS_NAMED)
_NUMBERS = "[0-9]+(?:x[0-9]+)*"
MODEL_ID_REGEX = (rf"(?:mlp{_NUMBERS}|cnn{_NUMBERS}(?:-k[0-9]+)?(?:-p[0-9]+)?(?:-d{_NUMBERS})?)"
                  rf"(?:-(?:{_ACTIVATION}))?-[a-z][a-z0-9]*-s[0-9]+")
_MODEL_ID = re.compile(rf"(?:mlp(?P<widths>{_NUMBERS})|cnn(?P<channels>{_NUMBERS})(?:-k(?P<kernel>[0-9]+))?"
                       rf"(?:-p(?P<pool>[0-9]+))?(?:-d(?P<dense>{_NUMBERS}))?)"
                       rf"(?:-(?P<act>{_ACTIVATION}))?-(?P<reg>[a-z][a-z0-9]*)-s(?P<seed>[0-9]+)")
# The layers an analysis can look at: the hidden layers, counted from 1, and the output logits.
INPUT_LAYER = "input"  # the test images themselves, measured before the first layer
OUTPUT_LAYER = "output"
LAYER_REGEX = r"hidden_[1-9][0-9]*|output"  # hidden_name(i) for i >= 1, or OUTPUT_LAYER


def hidden_name(i: int) -> str:
    """Name of the i-th hidden layer, counted from 1."""
    return f"hidden_{i}"


def layer_names(n_hidden: int) -> list[str]:
    return [hidden_name(i) for i in range(1, n_hidden + 1)] + [OUTPUT_LAYER]


def _numbers(text: str | None) -> tuple[int, ...]:
    return tuple(int(w) for w in text.split("x")) if text else ()


@dataclass(frozen=True)
class ModelId:
    widths: tuple[int, ...]  # units of every hidden layer in order: a CNN's channels, then its dense widths
    regularization: str
    seed: int
    activation: str = DEFAULT_ACTIVATION
    conv: int = 0  # how many of the hidden layers are convolutional, first (0: an MLP)
    kernel: int = DEFAULT_KERNEL  # a CNN's square kernel, the same in every convolutional layer
    pool: int = DEFAULT_POOL  # max pooling after every convolutional layer, size = stride (1: none)

    @property
    def channels(self) -> tuple[int, ...]:
        return self.widths[:self.conv]

    @property
    def dense(self) -> tuple[int, ...]:
        """The widths of the fully connected hidden layers (all of an MLP's)."""
        return self.widths[self.conv:]

    def __str__(self) -> str:
        act = "" if self.activation == DEFAULT_ACTIVATION else f"-{self.activation}"
        return f"{self.architecture_name}{act}-{self.regularization}-s{self.seed}"

    @property
    def architecture_name(self) -> str:
        """mlp{widths} or cnn{channels}[-k..][-p..][-d..]: the layers alone."""
        if not self.conv:
            return f"mlp{'x'.join(map(str, self.widths))}"
        parts = [f"cnn{'x'.join(map(str, self.channels))}"]
        parts += [f"k{self.kernel}"] if self.kernel != DEFAULT_KERNEL else []
        parts += [f"p{self.pool}"] if self.pool != DEFAULT_POOL else []
        parts += [f"d{'x'.join(map(str, self.dense))}"] if self.dense else []
        return "-".join(parts)

    @property
    def architecture(self) -> str:
        """The id without its seed: what models trained with different seeds share."""
        return str(self).rsplit("-s", 1)[0]

    @classmethod
    def parse(cls, text: str) -> "ModelId":
        match = _MODEL_ID.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a model id of the form mlp{{widths}}[-{{activation}}]-{{reg}}-s{{seed}} "
                             f"or cnn{{channels}}[-k{{kernel}}][-p{{pool}}][-d{{widths}}][-{{activation}}]-{{reg}}-s{{seed}}")
        common = dict(regularization=match["reg"], seed=int(match["seed"]), activation=match["act"] or DEFAULT_ACTIVATION)
        if match["widths"]:
            return cls(_numbers(match["widths"]), **common)
        channels = _numbers(match["channels"])
        return cls(channels + _numbers(match["dense"]), **common, conv=len(channels),
                   kernel=int(match["kernel"] or DEFAULT_KERNEL), pool=int(match["pool"] or DEFAULT_POOL))


# A network the user brings (config `external`) is named by its `name`: lower-case letters, digits and
# underscores, never a hyphen, so that no name reads as a grid model's id (which ends in -s{seed}).
EXTERNAL_NAME_REGEX = "[a-z][a-z0-9_]*"


def is_grid_model(model) -> bool:
    """Whether ``model`` is a model id of the grid (an MLP or CNN nntopo trains), not an external name."""
    return re.fullmatch(MODEL_ID_REGEX, str(model)) is not None


def architecture_of(model) -> str:
    """What models differing only in their seed share: a grid model's id without its seed; an external
    network's name (it is its own architecture)."""
    return ModelId.parse(str(model)).architecture if is_grid_model(model) else str(model)


# A CNN architecture: a CNN's model id without its seed, e.g. cnn16x32-none (the space of first-layer
# filters gathers every seed's kernels per architecture: nntopo/weights/filters.py).
ARCHITECTURE_REGEX = (rf"cnn{_NUMBERS}(?:-k[0-9]+)?(?:-p[0-9]+)?(?:-d{_NUMBERS})?"
                      rf"(?:-(?:{_ACTIVATION}))?-[a-z][a-z0-9]*")
