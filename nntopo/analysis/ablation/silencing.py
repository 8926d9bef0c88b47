"""What every ablator shares (the dense replay of ``recorded.Ablator``, a CNN's channels of
``channels.ChannelAblator``, an external network's units of ``network.NetworkAblator``): each point's
score for a silenced set of units, computed once per set and remembered, so that the methods
clustering one layer share their random baseline (the same draws for all).

A point's score is what the table sums per cluster: for a classifier whether the argmax of its
outputs is its class (bool), for a regressor its squared error summed over the d outputs
(``task.point_errors``, float64)."""

from __future__ import annotations

import functools

import numpy as np

from nntopo import task


def unit_indices(silenced, n_neurons: int) -> np.ndarray:
    """``silenced`` as a flat array of indices, each checked to be one of the layer's ``n_neurons``."""
    silenced = np.asarray(silenced, dtype=np.int64).reshape(-1)
    if silenced.size and (silenced.min() < 0 or silenced.max() >= n_neurons):
        raise ValueError(f"neuron indices must lie in 0..{n_neurons - 1}, got {silenced.tolist()}")
    return silenced


def checked_targets(targets, outputs: np.ndarray) -> np.ndarray | None:
    """A regressor's ``targets`` as float64 N x d, checked against its ``outputs`` (N x d, nothing
    silenced): the same shape, finite both; None for a classifier (``targets`` None)."""
    if targets is None:
        return None
    targets = task.targets_2d(targets)
    if targets.shape != outputs.shape:
        raise ValueError(f"the targets ({targets.shape[0]} x {targets.shape[1]}) do not match the network's "
                         f"outputs ({' x '.join(map(str, outputs.shape))}): one target value per output, per point")
    for name, values in (("targets", targets), ("outputs", outputs)):
        if not np.isfinite(values).all():
            raise ValueError(f"the regressor's {name} hold NaN or infinite values; its error cannot be measured")
    return targets


class Remembered:
    """Each point's score with any set of a layer's units silenced, remembered per set. A subclass sets
    ``n_neurons``, ``y_true`` (classes, or a regressor's level sets), ``logits`` (the outputs, nothing
    silenced) and, for a regressor, ``targets`` (N x d; None for a classifier), and gives the outputs of
    a non-empty set of sorted unique indices: ``_logits_without(silenced)``, or many sets at once,
    ``_outputs_each(sets)``, which ``remember`` asks for every set a table needs. One that computes its
    outputs a chunk of points at a time may score each chunk instead (``_scores_each``), so that only
    the scores of every set are held."""

    n_neurons: int
    y_true: np.ndarray
    logits: np.ndarray
    targets: np.ndarray | None = None

    @functools.cached_property
    def _known(self) -> dict[bytes, np.ndarray]:
        return {}

    def scores(self, silenced=()) -> np.ndarray:
        """(N,) per point with the units ``silenced``: correct (bool) for a classifier, squared error
        (float64) for a regressor."""
        silenced = np.unique(unit_indices(silenced, self.n_neurons))
        key = silenced.tobytes()
        if key not in self._known:
            if silenced.size:
                self.remember([silenced])
            else:
                self._known[key] = self.scores_of(self.logits)
        return self._known[key]

    def correct(self, silenced=()) -> np.ndarray:
        """(N,) bool: a classifier's points whose ablated argmax is their class."""
        if self.targets is not None:
            raise ValueError("a regressor's points have an error, not a class to get right: use scores()")
        return self.scores(silenced)

    def scores_of(self, outputs: np.ndarray, points: slice = slice(None)) -> np.ndarray:
        """The scores of ``outputs`` (the rows of ``points``)."""
        if self.targets is None:
            return outputs.argmax(axis=1) == self.y_true[points]
        return task.point_errors(outputs, self.targets[points])

    def remember(self, sets) -> None:
        """Compute the scores of every set of ``sets`` not known yet, all at once, and remember them
        (``scores`` then finds them)."""
        todo = {}
        for silenced in sets:
            silenced = np.unique(unit_indices(silenced, self.n_neurons))
            if silenced.size and silenced.tobytes() not in self._known:
                todo[silenced.tobytes()] = silenced
        for key, scores in zip(todo, self._scores_each(list(todo.values())), strict=True):
            self._known[key] = scores

    def _scores_each(self, sets: list[np.ndarray]):
        """The scores of each set in order, from its outputs (``_outputs_each``)."""
        for outputs in self._outputs_each(sets):
            yield self.scores_of(outputs)

    def _outputs_each(self, sets: list[np.ndarray]):
        """The (N, C) or (N, d) outputs of each set (non-empty, sorted, unique) in order: one set after
        another unless a subclass does better."""
        for silenced in sets:
            yield self._logits_without(silenced)

    def _logits_without(self, silenced: np.ndarray) -> np.ndarray:
        raise NotImplementedError
