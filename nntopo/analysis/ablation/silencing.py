"""What every ablator shares (the dense replay of ``recorded.Ablator``, a CNN's channels of
``channels.ChannelAblator``, an external network's units of ``network.NetworkAblator``): the
predictions' correctness for a silenced set of units, computed once per set and remembered, so that
the methods clustering one layer share their random baseline (the same draws for all)."""

from __future__ import annotations

import functools

import numpy as np


def unit_indices(silenced, n_neurons: int) -> np.ndarray:
    """``silenced`` as a flat array of indices, each checked to be one of the layer's ``n_neurons``."""
    silenced = np.asarray(silenced, dtype=np.int64).reshape(-1)
    if silenced.size and (silenced.min() < 0 or silenced.max() >= n_neurons):
        raise ValueError(f"neuron indices must lie in 0..{n_neurons - 1}, got {silenced.tolist()}")
    return silenced


class Remembered:
    """Correctness of the ablated predictions for any set of a layer's units, remembered per set. A
    subclass sets ``n_neurons``, ``y_true`` and ``logits`` (nothing silenced) and computes
    ``_logits_without(silenced)`` for a non-empty set of sorted unique indices; it may compute many
    sets at once (``_correct_each``), which ``remember`` asks for every set a table needs."""

    n_neurons: int
    y_true: np.ndarray
    logits: np.ndarray

    @functools.cached_property
    def _known(self) -> dict[bytes, np.ndarray]:
        return {}

    def correct(self, silenced=()) -> np.ndarray:
        silenced = np.unique(unit_indices(silenced, self.n_neurons))
        key = silenced.tobytes()
        if key not in self._known:
            logits = self._logits_without(silenced) if silenced.size else self.logits
            self._known[key] = logits.argmax(axis=1) == self.y_true
        return self._known[key]

    def remember(self, sets) -> None:
        """Compute the correctness of every set of ``sets`` not known yet, all at once, and remember it
        (``correct`` then finds it)."""
        todo = {}
        for silenced in sets:
            silenced = np.unique(unit_indices(silenced, self.n_neurons))
            if silenced.size and silenced.tobytes() not in self._known:
                todo[silenced.tobytes()] = silenced
        for key, correct in zip(todo, self._correct_each(list(todo.values()))):
            self._known[key] = correct

    def _correct_each(self, sets: list[np.ndarray]) -> list[np.ndarray]:
        """The correctness of each set (non-empty, sorted, unique): one set after another unless a
        subclass does better."""
        return [self._logits_without(silenced).argmax(axis=1) == self.y_true for silenced in sets]

    def _logits_without(self, silenced: np.ndarray) -> np.ndarray:
        raise NotImplementedError
