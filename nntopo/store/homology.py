"""homology.h5: persistent homology per layer and class (nntopo/topology).

Root: `classes`; per class `points/<c>` (the test points measured) and `subsample/<c>` (the
furthest-point subsample, indices into the test set, the same images in every layer). Per layer
(`input`, `hidden_1` .., `output`) and class, group `<layer>/<c>`: `betti` (scales x maxdim+1: the
Betti numbers at hop scales 1 .. epsilon), `h0`, `h1` (`h2`) (persistence diagrams of the subsample,
its diameter scaled to 1), and after the input `bottleneck`, `wasserstein` (per dimension, to the
previous layer's diagrams). The root's attributes hold the parameters and `layers` (JSON, in depth
order); a class group's hold `distinct` (points left once coincident ones merge) and `diameter`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

from nntopo.store.hdf5 import StoreError, _attrs, _dataset, _open, _write_attrs, atomic, read_diagrams, write_diagrams


@dataclass
class ClassHomology:
    betti: np.ndarray
    diagrams: list[np.ndarray]
    distinct: int
    diameter: float
    bottleneck: np.ndarray | None = None  # per dimension, to the previous layer; None at the input
    wasserstein: np.ndarray | None = None


@dataclass
class Homology:
    points: dict[int, np.ndarray]
    subsample: dict[int, np.ndarray]
    layers: dict[str, dict[int, ClassHomology]]  # depth order
    attrs: dict

    @property
    def classes(self) -> list[int]:
        return sorted(self.points)


def write_homology(path, homology: Homology) -> None:
    with atomic(path) as tmp, h5py.File(tmp, "w") as h5:
        _write_attrs(h5, {**homology.attrs, "layers": json.dumps(list(homology.layers))})
        h5.create_dataset("classes", data=np.asarray(homology.classes, dtype=np.int64))
        for c in homology.classes:
            h5.create_dataset(f"points/{c}", data=np.asarray(homology.points[c], dtype=np.int64))
            h5.create_dataset(f"subsample/{c}", data=np.asarray(homology.subsample[c], dtype=np.int64))
        for layer, per_class in homology.layers.items():
            for c, result in per_class.items():
                group = h5.create_group(f"{layer}/{c}")
                group.attrs.update(distinct=result.distinct, diameter=result.diameter)
                group.create_dataset("betti", data=np.asarray(result.betti, dtype=np.int64))
                write_diagrams(group, result.diagrams)
                for name in ("bottleneck", "wasserstein"):
                    if getattr(result, name) is not None:
                        group.create_dataset(name, data=np.asarray(getattr(result, name), dtype=np.float64))


def read_homology(path) -> Homology:
    with _open(path) as h5:
        attrs = _attrs(h5)
        if "layers" not in attrs:
            raise StoreError(f"{path}: no 'layers' attribute; not a homology file")
        classes = _dataset(h5, "classes", "i", 1).tolist()
        points = {c: _dataset(h5, f"points/{c}", "i", 1) for c in classes}
        subsample = {c: _dataset(h5, f"subsample/{c}", "i", 1) for c in classes}
        layers = {}
        for layer in json.loads(attrs["layers"]):
            layers[layer] = {}
            for c in classes:
                name = f"{layer}/{c}"
                if name not in h5:
                    raise StoreError(f"{path}: missing group '{name}'")
                group = h5[name]
                layers[layer][c] = ClassHomology(
                    _dataset(h5, f"{name}/betti", "i", 2),
                    read_diagrams(h5, name),
                    int(group.attrs["distinct"]),
                    float(group.attrs["diameter"]),
                    *(_dataset(h5, f"{name}/{key}", "f", 1) if key in group else None
                      for key in ("bottleneck", "wasserstein")),
                )
    return Homology(points, subsample, layers, attrs)
