"""The preparing job of a user's dataset (rule dataset_data): read its source split by split
(nntopo.data.sources), check it, scale it (nntopo.data.scaling), and write results/{dataset}/data.h5
(nntopo.store.points) and beside it the record results/{dataset}/dataset.json that the config's checks read
(nntopo.datasets.from_record).

Memory: one split's source array and one batch of scaled points at a time (the training split is written
and let go before the test split is read): 50,000 colour images of 32 x 32 are 150 MB as uint8, where
their float32 inputs would be 600 MB.

Nothing half-written: data.h5 is moved into place only when both splits are written and checked, the
record only after it (and after the config's checks that need the dataset's facts); a failed check
leaves neither.
"""

from __future__ import annotations

import json
import math
from importlib import metadata
from pathlib import Path

import numpy as np

from nntopo import datasets
from nntopo import task as tasks
from nntopo.data import DataError, scaling, shapes, sources

SPLITS = datasets.SPLITS
# What reads each kind's source besides numpy and h5py, so that its version is on the record too.
SOURCE_PACKAGES = {"torchvision": ("torchvision", "pillow", "scipy"), "folder": ("pillow",), "arrays": ()}


def versions(kind: str) -> dict[str, str]:
    from nntopo import store

    found = store.versions()
    for package in SOURCE_PACKAGES.get(kind, ()):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return found


def check_finite(x: np.ndarray, where: str, split: str) -> None:
    """Refuse NaN or infinity in float inputs, saying how many and where the first is."""
    if x.dtype.kind != "f":
        return
    nan = inf = 0
    first = None
    start = 0
    for batch in scaling.batches(x):
        bad = ~np.isfinite(batch)
        if bad.any():
            nan += int(np.isnan(batch).sum())
            inf += int(np.isinf(batch).sum())
            if first is None:
                point, *position = np.argwhere(bad)[0]
                first = (start + int(point), tuple(int(p) for p in position))
        start += len(batch)
    if first is not None:
        at = f"point {first[0]:,}" + (f" at {first[1]} of its {tuple(x.shape[1:])}" if len(first[1]) > 1 else
                                       f", coordinate {first[1][0]}")
        raise DataError(f"{where}: x_{split} holds {nan:,} NaN and {inf:,} infinite values (the first in {at}); "
                        "remove those points or replace the values, then prepare again")


def prepare(entry: dict, data_dir, download: bool, output, record, config: dict | None = None,
            log=print) -> datasets.DatasetInfo:
    """Prepare the user's dataset ``entry`` (its config entry, defaults filled in) into ``output``
    (data.h5) and ``record`` (dataset.json); with ``config``, run the config's checks that need the
    dataset's facts before the record is written. Returns the dataset's record as a DatasetInfo."""
    name, kind = entry["name"], entry["kind"]
    spec = scaling.parse(entry.get("scaling", "unit"), f"dataset {name}")
    from nntopo.store.points import data_writer

    output = Path(output)
    regression = sources.is_regression(entry)
    labels, targets, where, shape, names, files = {}, {}, {}, {}, {}, {}
    fitted = levels = None
    with data_writer(output) as writer:
        for split in SPLITS:
            source = sources.read(entry, data_dir, download, split)
            x, where[split], names[split] = source.x, source.where, source.classes
            files.update(source.sources)
            sources.check_lengths(x.shape, np.shape(source.y), source.where, split)
            if regression:
                # The training targets' quantiles cut both splits into level sets, which stand in for classes.
                targets[split] = sources.check_targets(source.y, source.where, split)
                sources.check_target_widths(targets, where)
                levels = levels or tasks.levels_of(targets[split], sources.n_level_sets(entry))
                labels[split] = tasks.level_sets(targets[split], levels)
                names[split] = source.target_names
            else:
                if kind == "arrays":
                    sources.refuse_real_labels(source.y, source.where, split)
                labels[split] = sources.check_label_values(source.y, source.where, split)
            shape[split] = tuple(int(d) for d in x.shape[1:])
            if split != "train" and shape[split] != shape["train"]:
                raise DataError(f"{source.where}: one input of the test split has shape {shape[split]} but of the "
                                f"training split {shape['train']}; give both splits the same input shape")
            check_finite(x, source.where, split)
            if fitted is None:
                fitted = scaling.fit(x, spec, source.where)
            writer.write_split(split, (len(x), math.prod(shape[split])), fitted.batches(x), labels[split],
                               targets[split] if regression else None)
            log(f"{name}: {split} split, {len(x):,} points of shape {shape[split]} from {source.where}")
            del source, x  # let the split go before the next is read
        if regression:
            found = sources.regression_facts(targets, where, sources.n_level_sets(entry), names["train"], levels)
        else:
            if names["train"] != names["test"]:
                raise DataError(f"{where['test']}: its classes {names['test']} are not the training split's "
                                f"{names['train']}; give both splits the same classes")
            classes, smallest = sources.check_labels(labels, where, names["train"])
            found = {"classes": list(classes), "smallest_class": smallest}
        facts = {"input_shape": list(shape["train"]), "classes": found["classes"],
                 "points": {split: len(labels[split]) for split in SPLITS}, **found,
                 "scaling": fitted.provenance, "sources": files, "versions": versions(kind)}
        writer.set_attrs({"dataset": name, "kind": kind, "config": json.dumps(entry, sort_keys=True),
                          **{key: value if key == "task" else json.dumps(value) for key, value in facts.items()}})
    info = datasets.from_record(entry, {"entry": entry, **facts})
    if config is not None:
        _check_known(config, info, output, log)
    _write_record(record, {"entry": entry, **facts})
    smallest = facts["smallest_class"]
    what = (f"{facts['targets']} target(s), {len(facts['classes'])} level sets" if regression else
            f"{len(facts['classes'])} classes")
    log(f"{name}: {what} (the smallest has {smallest['train']:,} training and {smallest['test']:,} test points); "
        f"scaling {json.dumps(fitted.provenance)}")
    return info


def _check_known(config: dict, info: datasets.DatasetInfo, output: Path, log) -> None:
    """The config's checks that need the dataset's facts (its input shape for the models, its points for
    the analysis); on a failure the data.h5 just written goes too."""
    from nntopo import config as nnconfig

    check = getattr(nnconfig, "check_known", None)
    if check is None:
        log(f"{info.name}: the config's checks of the dataset's facts are not there yet (nntopo.config.check_known)")
        return
    try:
        check(config, info)
    except Exception:
        output.unlink(missing_ok=True)
        raise


def _write_record(path, record: dict) -> None:
    from nntopo.store import atomic

    with atomic(path) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=2) + "\n")


def write_shape(name: str, settings: dict, output, log=print) -> None:
    """Generate shape ``name`` with ``settings`` (train_points, test_points, seed) into ``output``."""
    from nntopo import store

    x_train, y_train, x_test, y_test = shapes.generate(name, settings["train_points"], settings["test_points"],
                                                settings["seed"])
    known = {str(c): list(b) for c, b in shapes.KNOWN_BETTI[name].items()}
    info = datasets.get(name)
    attrs = store.provenance(name, "", settings["seed"], settings, known_betti=json.dumps(known),
                              class_names=json.dumps(info.classes), kind=info.kind,
                              input_shape=json.dumps(info.input_shape), classes=json.dumps(info.classes),
                              scaling=json.dumps({"kind": "none"}))
    store.write_shape_data(output, dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test), attrs)
    log(f"{name}: {len(x_train)} training and {len(x_test)} test points in {x_train.shape[1]}-D; "
        f"known Betti numbers {known}")
