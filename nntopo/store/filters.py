"""{dataset}/filters/{architecture}/space.h5: the space of first-layer filters of one CNN architecture,
the kernels of every seed together (nntopo/weights/filters.py).

Every kernel gathered: `kernels` (N x kh x kw, as read, batch normalisation folded in; one per pair of
output and input channel), `source` (N,) the model it came from (an index into the attribute `models`)
and `contrast` (N,) its contrast after mean-centring (the norm named by the attribute `contrast_norm`).
The selection: `contrasted` (M,) the kernels the contrast filter keeps (indices of kernels, ascending)
and `density` (M,) each one's distance, as a centred unit vector, to its density_k-th nearest
neighbour among them; `kept` (n,) those the density filter keeps too (indices of kernels, ascending),
`points` (n x kh*kw) their centred unit vectors and `plane` (n x 2) their coordinates along the
points' first two principal components (about the points' mean; a circle of filters goes round in
it; the attribute `plane_variance` is the share of variance it holds). Group `mapper`
(nntopo/store/graph.py): the graph (`node_ptr`, `node_points`: CSR, indices of points; `edges`;
`node_component`; `positions`) and `node_kernels` (n_nodes x kh x kw), the mean of each node's
points. Group `diagram`: `h0`, `h1` (`h2`), Euclidean Vietoris-Rips on the points, not rescaled. Root
attributes: `dataset`, `architecture`, `models` and `weight_files` (JSON lists, in the order `source`
counts), the settings (`config` as JSON and each parameter alone), `kernel_shape`, the DBSCAN radius
`eps` (NaN: no graph) and `versions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from nntopo.store.graph import GRAPH_GROUP, NODE_ARRAYS, check_graph, read_graph, write_graph
from nntopo.store.hdf5 import (StoreError, _attrs, _dataset, _dtype, _open, _write_attrs, atomic, read_diagrams,
                               write_diagrams)

FILTER_ARRAYS = {"kernels": ("f", 3), "source": ("i", 1), "contrast": ("f", 1), "contrasted": ("i", 1),
                 "density": ("f", 1), "kept": ("i", 1), "points": ("f", 2), "plane": ("f", 2)}
FILTER_GRAPH_GROUP = GRAPH_GROUP
FILTER_GRAPH_ARRAYS = {**NODE_ARRAYS, "node_component": ("i", 1), "positions": ("f", 2), "node_kernels": ("f", 3)}
FILTER_DIAGRAM_GROUP = "diagram"


@dataclass
class FilterSpace:
    kernels: np.ndarray  # (N, kh, kw) every first-layer kernel gathered
    source: np.ndarray  # (N,) index into models of the model each came from
    contrast: np.ndarray  # (N,) norm after mean-centring
    contrasted: np.ndarray  # (M,) kernels kept by the contrast filter, ascending
    density: np.ndarray  # (M,) distance to the density_k-th nearest neighbour among the contrasted
    kept: np.ndarray  # (n,) kernels kept by both filters, ascending
    points: np.ndarray  # (n, kh * kw) their centred unit vectors
    plane: np.ndarray  # (n, 2) coordinates along the points' first two principal components
    graph: dict[str, np.ndarray]  # FILTER_GRAPH_ARRAYS by name
    diagrams: list[np.ndarray]  # H0 .. H_maxdim, (bars, 2)
    attrs: dict

    @property
    def kernel_shape(self) -> tuple[int, int]:
        return tuple(int(s) for s in self.kernels.shape[1:])

    @property
    def angle(self) -> np.ndarray:
        """(n,) each point's angle in the plane of the first two principal components, in [-pi, pi]."""
        return np.arctan2(self.plane[:, 1], self.plane[:, 0])

    @property
    def models(self) -> list[str]:
        return json.loads(self.attrs["models"])

    @property
    def counts(self) -> dict[str, int]:
        """How many kernels each step keeps: gathered, by the contrast filter, by the density filter too."""
        return {"kernels": len(self.kernels), "contrast": len(self.contrasted), "density": len(self.kept)}

    @property
    def n_nodes(self) -> int:
        return len(self.graph["node_ptr"]) - 1


def write_filter_space(path, space: FilterSpace) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, space.attrs)
        for name, (kind, _) in FILTER_ARRAYS.items():
            h5.create_dataset(name, data=np.asarray(getattr(space, name), dtype=_dtype(kind)))
        write_graph(h5, space.graph, FILTER_GRAPH_ARRAYS, shapes={"node_kernels": (-1, *space.kernel_shape)})
        write_diagrams(h5, space.diagrams, FILTER_DIAGRAM_GROUP)


def read_filter_space(path) -> FilterSpace:
    with _open(path) as h5:
        attrs = _attrs(h5)
        if "architecture" not in attrs or "models" not in attrs or FILTER_GRAPH_GROUP not in h5:
            raise StoreError(f"{path}: no 'architecture' or 'models' attribute or '{FILTER_GRAPH_GROUP}' group; "
                             f"not a filter space file")
        arrays = {name: _dataset(h5, name, kind, ndim) for name, (kind, ndim) in FILTER_ARRAYS.items()}
        graph = read_graph(h5, FILTER_GRAPH_ARRAYS)
        diagrams = read_diagrams(h5, FILTER_DIAGRAM_GROUP)
    kernels, kept, contrasted = arrays["kernels"], arrays["kept"], arrays["contrasted"]
    n_kernels, n = len(kernels), len(kept)
    n_models = len(json.loads(attrs["models"]))
    problems = [
        (any(len(arrays[k]) != n_kernels for k in ("source", "contrast")),
         f"source and contrast need {n_kernels} entries"),
        (len(arrays["source"]) and not (0 <= arrays["source"].min() and arrays["source"].max() < n_models),
         f"source names models outside the {n_models} of attribute 'models'"),
        (len(arrays["density"]) != len(contrasted),
         f"density has {len(arrays['density'])} entries for {len(contrasted)} contrasted kernels"),
        (len(contrasted) and not (0 <= contrasted.min() and contrasted.max() < n_kernels),
         "contrasted outside the kernels"),
        (not np.isin(kept, contrasted).all(), "kept holds kernels the contrast filter dropped"),
        (arrays["points"].shape != (n, int(np.prod(kernels.shape[1:]))), f"points is not ({n}, kernel pixels)"),
        (arrays["plane"].shape != (n, 2), f"plane is not ({n}, 2)"),
    ]
    for wrong, what in problems:
        if wrong:
            raise StoreError(f"{path}: {what}")
    check_graph(graph, path, n_points=n)
    if graph["node_kernels"].shape[1:] != kernels.shape[1:]:
        raise StoreError(f"{path}: mapper node_kernels not one kernel per node")
    if not diagrams:
        raise StoreError(f"{path}: no persistence diagram")
    return FilterSpace(kernels, arrays["source"], arrays["contrast"], contrasted, arrays["density"], kept,
                       arrays["points"], arrays["plane"], graph, diagrams, attrs)
