"""The table of topology measures (nntopo/topology/measures.py): homology.csv's columns come from it in
its order, and the homology-by-depth figure draws what varies."""

import numpy as np
import pandas as pd

from nntopo.store import ClassHomology
from nntopo.topology import measures, plots
from nntopo.topology.measures import MEASURES, measure_row


def measured(b0=1, b1=0, previous=True) -> ClassHomology:
    diagrams = [np.array([[0.0, 0.5], [0.0, np.inf]]), np.array([[0.2, 0.5], [0.3, 0.4]])]
    distances = np.array([0.1, 0.2]) if previous else None
    return ClassHomology(np.array([[3, 2], [b0, b1]]), diagrams, 40, 2.0, distances,
                         None if distances is None else distances + 1)


def test_a_row_has_every_measure_in_table_order():
    row = measure_row(measured(b0=2, b1=1))
    assert list(row) == ["b0", "b1", "omega", "total_persistence_h0", "total_persistence_h1", "bottleneck_h0",
                         "bottleneck_h1", "wasserstein_h0", "wasserstein_h1"]
    assert (row["b0"], row["b1"], row["omega"]) == (2, 1, 3)  # at epsilon: the last scale
    assert row["total_persistence_h0"] == 0.5 and np.isclose(row["total_persistence_h1"], 0.4)
    assert (row["bottleneck_h1"], row["wasserstein_h1"]) == (0.2, 1.2)
    assert all(np.isnan(v) for k, v in measure_row(measured(previous=False)).items() if "_h" in k and "total" not in k)


def test_columns_and_dimensions():
    betti = next(m for m in MEASURES if m.name == "betti")
    assert betti.columns(["b1", "b0", "omega", "b2"]) == ["b0", "b1", "b2"] and betti.dimension("b2") == 2
    omega = next(m for m in MEASURES if m.name == "omega")
    assert omega.columns(["b0"]) == [] and omega.dimension("omega") is None
    assert [m.name for m in MEASURES if m.between_layers] == ["bottleneck", "wasserstein"]
    assert measures.MAX_DIM == 2


def table(b0=(1, 1, 1, 1)) -> pd.DataFrame:
    rows = [{"model": model, "depth": depth, "class": 0, **measure_row(measured(b0=b))}
            for (model, depth), b in zip([("mlp4-none-s0", 0), ("mlp4-none-s0", 1), ("mlp8-none-s0", 0),
                                          ("mlp8-none-s0", 1)], b0)]
    frame = pd.DataFrame(rows)
    frame["total_persistence_h1"] = [0.1, 0.2, 0.3, 0.4]
    return frame


def test_the_depth_figure_leaves_out_what_never_changes():
    """MNIST at k = 25, epsilon = 2: one component everywhere, and at most a loop. Rows that hold one
    value everywhere are named in the note instead of drawn, and so is omega when it only repeats the
    one Betti number that varies; a known Betti number that disagrees keeps its row; with nothing
    varying every row is drawn."""
    rows, notes = plots.depth_rows(table())
    assert [column for _, column, _ in rows] == ["total_persistence_h1"]
    assert notes == ["b0 = 1, b1 = 0, ω = 1, H0 total persistence = 0.5 in every layer, class and model"]
    rows, notes = plots.depth_rows(table(b0=(1, 2, 1, 1)))
    assert [column for _, column, _ in rows] == ["b0", "total_persistence_h1"]
    assert notes[1:] == ["ω = b0"]
    loop = table().assign(b1=[0, 1, 0, 0], omega=[1, 2, 1, 1])
    rows, notes = plots.depth_rows(loop)
    assert [column for _, column, _ in rows] == ["b1", "total_persistence_h1"] and notes[1:] == ["ω = 1 + b1"]
    both = loop.assign(b0=[1, 1, 2, 1], omega=[1, 2, 2, 1])
    assert [column for _, column, _ in plots.depth_rows(both)[0]][:3] == ["b0", "b1", "omega"]
    rows, _ = plots.depth_rows(table(), known={0: [1, 1, 0]})
    assert [column for _, column, _ in rows] == ["b1", "total_persistence_h1"]
    flat = table().assign(total_persistence_h1=0.5)
    rows, notes = plots.depth_rows(flat)
    assert len(rows) == 5 and notes == []
    figure = plots.betti_depth(loop.assign(class_name="0"), ["0"], title="t")
    assert figure._suptitle.get_text().endswith("in every layer, class and model; ω = 1 + b1") and len(figure.axes) == 2
