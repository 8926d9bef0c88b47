"""The measures of one class's points in one layer, as a table: one row per measure.

The homology stage (nntopo.topology.stage) measures each class in each layer once: the k-NN hop-distance
Betti numbers at every scale, the Euclidean persistence diagrams of the subsample, and their distances
to the previous layer's (store.ClassHomology, what homology.h5 keeps). A measure reads one number, or
one per homology dimension, from that record. ``MEASURES`` is read by

- the stage's table (``stage.homology_table``: homology.csv's columns after the keys, in this order),
- the homology-by-depth figure (``plots.betti_depth``: a row per column of each measure ``by_depth``),
- the distances figure (``plots.diagram_distances``: a row per measure ``between_layers``).

A new measure of what is measured already is its function and its row here; its caption sentence in
report/betti_depth.rst if it is drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nntopo.store import ClassHomology
from nntopo.topology.homology import MAX_DIM, total_persistence


@dataclass(frozen=True)
class Measure:
    name: str
    column: str  # its column in homology.csv; "{d}" in it: one column per homology dimension d
    of: Callable[[ClassHomology], object]  # a number, or one per dimension where ``column`` has "{d}"
    label: str  # the by-depth figure's axis label ("{d}" as in column)
    symbol: str = ""  # what the figure's note calls it when it is left out (its label if empty)
    by_depth: bool = False  # drawn against depth (plots.betti_depth)
    between_layers: bool = False  # compares a layer with the previous one (plots.diagram_distances); NaN at the input
    counts: bool = False  # whole numbers: the figure's axis starts at 0 with whole ticks
    known: bool = False  # a generated shape's known Betti numbers are drawn at depth 0 (one per dimension)
    sums: str = ""  # the measure whose columns this one adds up (omega: the Betti numbers)

    @property
    def per_dimension(self) -> bool:
        return "{d}" in self.column

    def row(self, measured: ClassHomology) -> dict:
        """Its columns of one class in one layer, in dimension order."""
        value = self.of(measured)
        if not self.per_dimension:
            return {self.column: value}
        return {self.column.format(d=d): v for d, v in enumerate(value)}

    def columns(self, table) -> list[str]:
        """Its columns present in ``table`` (any with a ``columns`` attribute or a list of names)."""
        names = set(getattr(table, "columns", table))
        wanted = [self.column.format(d=d) for d in range(MAX_DIM + 1)] if self.per_dimension else [self.column]
        return [column for column in wanted if column in names]

    def dimension(self, column: str) -> int | None:
        """The homology dimension of one of its columns (None when it has one column)."""
        if not self.per_dimension:
            return None
        return next(d for d in range(MAX_DIM + 1) if self.column.format(d=d) == column)


def _at_epsilon(measured: ClassHomology) -> np.ndarray:
    return measured.betti[-1]  # the rows of betti are the scales 1 .. epsilon


def _to_previous(values: np.ndarray | None, measured: ClassHomology) -> list[float]:
    return [np.nan if values is None else float(values[d]) for d in range(len(measured.diagrams))]


MEASURES = (
    Measure("betti", "b{d}", lambda m: [int(b) for b in _at_epsilon(m)], "b{d}", by_depth=True, counts=True,
            known=True),
    Measure("omega", "omega", lambda m: int(_at_epsilon(m).sum()), "ω = Σ b", "ω", by_depth=True, counts=True,
            sums="betti"),
    Measure("total_persistence", "total_persistence_h{d}", lambda m: [total_persistence(d) for d in m.diagrams],
            "H{d} total persistence", by_depth=True),
    Measure("bottleneck", "bottleneck_h{d}", lambda m: _to_previous(m.bottleneck, m), "bottleneck",
            between_layers=True),
    Measure("wasserstein", "wasserstein_h{d}", lambda m: _to_previous(m.wasserstein, m), "wasserstein",
            between_layers=True),
)


def measure_row(measured: ClassHomology) -> dict:
    """Every measure's columns of one class in one layer, in table order."""
    row = {}
    for measure in MEASURES:
        row.update(measure.row(measured))
    return row
