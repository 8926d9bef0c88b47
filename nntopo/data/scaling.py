"""How a user's dataset's inputs are scaled from its source's values: the entry's ``scaling``.

- ``unit`` (the default): to [0, 1]. Integer inputs map [0, high] to [0, 1], ``high`` the dtype's largest
  value for uint8 and uint16 (x / 255 in float32 for uint8: the built-in MNIST loader's numbers, bit for
  bit); other integer dtypes (int64 from Python lists, say) take the smallest of 255 and 65535 that holds
  the training split's values, which must not be negative. Float inputs map the training split's
  minimum and maximum (over every value: the geometry of points and the balance of channels are kept)
  to 0 and 1.
- ``standardize``: after the unit scaling, per channel (per coordinate of points) minus the mean and
  divided by the standard deviation (population, ddof 0), both computed on the training split.
- ``{mean: [...], std: [...]}``: the same with the numbers given, one per channel (coordinate).
- ``none``: the values as they are, in float32.

The scaling is fitted on the training split only, then applied to both splits; its provenance (the
Dataset.scaling format, with the numbers used) goes into data.h5 and the dataset's record.
Inputs are (N, C, H, W) images or (N, d) points; axis 1 is the channel (coordinate) either way.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from nntopo.data import DataError

KINDS = ("unit", "standardize", "none")
BATCH_VALUES = 1 << 22  # values scaled at a time (16 MB of float32): a split is never copied whole
_UNIT_HIGHS = (255, 65535)


def parse(spec, where: str) -> dict:
    """The entry's ``scaling`` as {"kind": "unit" | "standardize" | "none"}, or {"kind": "standardize",
    "mean": [...], "std": [...]} when given; ``where`` names it in a message."""
    if spec is None:
        return {"kind": "unit"}
    refused = f"{where}: scaling {spec!r} is not one of {', '.join(KINDS)} or {{mean: [...], std: [...]}}"
    if isinstance(spec, str):
        if spec not in KINDS:
            raise DataError(refused)
        return {"kind": spec}
    if not isinstance(spec, dict) or set(spec) != {"mean", "std"}:
        raise DataError(refused)
    mean, std = spec["mean"], spec["std"]
    numbers = [*mean, *std] if isinstance(mean, list) and isinstance(std, list) else [None]
    if len(mean) != len(std) or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in numbers):
        raise DataError(f"{where}: scaling mean and std must be lists of numbers of one length, one a channel")
    if min(std, default=0) <= 0:
        raise DataError(f"{where}: scaling std {std} must be positive, one a channel")
    return {"kind": "standardize", "mean": [float(v) for v in mean], "std": [float(v) for v in std]}


def batches(x: np.ndarray) -> Iterator[np.ndarray]:
    """Consecutive row slices of ``x`` of about BATCH_VALUES values each (views, no copy)."""
    rows = max(1, BATCH_VALUES // max(1, math.prod(x.shape[1:])))
    for start in range(0, len(x), rows):
        yield x[start:start + rows]


@dataclass(frozen=True)
class Scaling:
    """A fitted scaling: ``apply`` maps the source's values to the dataset's float32 inputs."""

    kind: str  # unit, standardize, none
    low: float = 0.0  # the unit scaling maps [low, high] to [0, 1]
    high: float = 1.0
    integer: bool = False  # integer inputs are scaled in float32 (as the built-in loaders do)
    mean: tuple[float, ...] = ()  # standardize: per channel, after the unit scaling
    std: tuple[float, ...] = ()
    given: bool = False  # mean and std given in the entry, not computed

    def unit(self, x: np.ndarray) -> np.ndarray:
        """x mapped by the unit scaling, float32 (N, ...) in C order; the values as they are for none."""
        if self.kind == "none":
            return x.astype(np.float32, order="C")
        if self.integer:
            return x.astype(np.float32, order="C") / np.float32(self.high)
        return ((x.astype(np.float64, order="C") - self.low) / (self.high - self.low)).astype(np.float32)

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``x`` (N, C, H, W) or (N, d) scaled and flattened: (N, features) float32."""
        scaled = self.unit(x)
        if self.kind == "standardize":
            centre, spread = _per_channel(self.mean, x.ndim), _per_channel(self.std, x.ndim)
            scaled = ((scaled.astype(np.float64) - centre) / spread).astype(np.float32)
        return scaled.reshape(len(x), -1)

    def batches(self, x: np.ndarray) -> Iterator[np.ndarray]:
        """``apply`` over ``x`` batch by batch, for a split too large to copy whole."""
        return (self.apply(batch) for batch in batches(x))

    @property
    def provenance(self) -> dict:
        """The Dataset.scaling record of the numbers used."""
        if self.kind == "none":
            return {"kind": "none"}
        unit = {"kind": "unit", "low": _number(self.low), "high": _number(self.high)}
        if self.kind == "unit":
            return unit
        origin = {"given": True} if self.given else {"computed_on": "train"}
        return {**unit, "kind": "standardize", "mean": list(self.mean), "std": list(self.std), **origin}


def _number(value: float):
    return int(value) if float(value).is_integer() else float(value)


def _per_channel(values, ndim: int) -> np.ndarray:
    """Per-channel numbers shaped to broadcast against (N, C, H, W) or (N, d)."""
    return np.asarray(values, dtype=np.float64).reshape(1, -1, *([1] * (ndim - 2)))


def _unit_range(x: np.ndarray, where: str) -> tuple[float, float, bool]:
    """(low, high, integer) of the unit scaling, from the training split ``x``."""
    if x.dtype in (np.uint8, np.uint16):
        return 0, np.iinfo(x.dtype).max, True
    low, high = x.min(), x.max()
    if x.dtype.kind in "iu":
        if low < 0:
            raise DataError(f"{where}: x_train holds negative integers (down to {low}); unit scaling maps [0, 255] "
                            "or [0, 65535] to [0, 1]: store the inputs as floats, or give scaling: none")
        for top in _UNIT_HIGHS:
            if high <= top:
                return 0, top, True
        raise DataError(f"{where}: x_train holds integers up to {high}, beyond 16 bits; store the inputs as floats "
                        "(their minimum and maximum are mapped to [0, 1]), or give scaling: none")
    if not high > low:
        raise DataError(f"{where}: every value of x_train is {low}; there is nothing to scale (or learn)")
    return float(low), float(high), False


def fit(x: np.ndarray, spec: dict, where: str) -> Scaling:
    """The scaling ``spec`` (from ``parse``) fitted on the training split ``x`` (N, C, H, W) or (N, d);
    ``where`` names the source in a message."""
    if spec["kind"] == "none":
        return Scaling("none")
    if len(x) == 0:
        raise DataError(f"{where}: the training split has no points; nothing to fit the scaling {spec['kind']} on")
    low, high, integer = _unit_range(x, where)
    unit = Scaling("unit", low, high, integer)
    if spec["kind"] == "unit":
        return unit
    channels = x.shape[1]
    if "mean" in spec:
        if len(spec["mean"]) != channels:
            raise DataError(f"{where}: scaling gives {len(spec['mean'])} means and stds but the inputs have "
                            f"{channels} channels (coordinates); give one a channel")
        return Scaling("standardize", low, high, integer, tuple(spec["mean"]), tuple(spec["std"]), given=True)
    axes = (0, *range(2, x.ndim))  # every axis but the channel's
    count = len(x) * math.prod(x.shape[2:])
    total = sum(unit.unit(batch).sum(axis=axes, dtype=np.float64) for batch in batches(x))
    mean = total / count
    centre = _per_channel(mean, x.ndim)
    squares = sum(((unit.unit(batch) - centre) ** 2).sum(axis=axes) for batch in batches(x))
    std = np.sqrt(squares / count)
    if (std == 0).any():
        flat = [int(c) for c in np.flatnonzero(std == 0)]
        raise DataError(f"{where}: channel (coordinate) {', '.join(map(str, flat[:5]))} of x_train is constant; "
                        "standardize cannot divide by its standard deviation 0: use scaling: unit")
    return Scaling("standardize", low, high, integer, tuple(float(v) for v in mean), tuple(float(v) for v in std))
