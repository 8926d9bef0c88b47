"""The homology stage: persistent homology of every layer and class, and the tables across layers.

The input layer is measured once per dataset (``input_homology``): it fixes, per class, which of the
analysed points (``analysis.split``, ``analysis.points``: the rows of every model's activations) are
measured and which of them form the furthest-point subsample, so every model's layers
(``model_homology``) see the same images; both files say which points (``points``). The algorithms
are in nntopo.topology.homology, the table's measures in nntopo.topology.measures; this module reads
and writes the files and saves the figures.

A regression's classes are the level sets of its target (nntopo.task): each level set's points are
measured as a class's, in every layer, named by its range of target values, and then the whole cloud (every
level set's measured points together, one more "class" named ``all`` after the level sets); the files record
the task and the level sets (``task``, ``level_sets``), and the summary reports each model's error where a
classifier's has its accuracy.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd

from nntopo import store
from nntopo import task as tasks
from nntopo.store import INPUT_LAYER, ClassHomology, Homology
from nntopo.topology import homology
from nntopo.topology.measures import measure_row

# Rows of the tables: what a row is about, then the measures.
KEYS = ["dataset", "model", "layer", "depth", "class", "class_name"]
WHOLE = "all"  # a regression's whole cloud, measured after its level sets


def _whole(levels: dict | None) -> int | None:
    """The key of a regression's whole cloud (one past its last level set); None for a classifier."""
    return None if levels is None else int(levels["n"])


def _named(c: int, names: list[str], unit: str, whole: int | None) -> str:
    """How the log names class ``c``: "class 3", "level set 0.12 to 0.57", or "all points" (``whole``)."""
    return "all points" if c == whole else f"{unit} {names[c]}"


def _unit(attrs) -> str:
    """What a file's labels are: "class", or a regression's "level set"."""
    return "level set" if tasks.of_attrs(attrs) == tasks.REGRESSION else "class"


def homology_points(labels: np.ndarray, settings: dict, unit: str = "class") -> dict[int, np.ndarray]:
    """Per class (``unit``: a regression's "level set"), the analysed points measured (indices into
    ``labels``): every one, or ``points_per_class`` drawn with the seed."""
    from nntopo.config import ConfigError

    rng = np.random.default_rng(settings["seed"])
    chosen = {}
    for c in np.unique(labels).tolist():
        members = np.flatnonzero(labels == c)
        wanted = settings["points_per_class"] or len(members)
        if wanted > len(members):
            raise ConfigError(f"homology.points_per_class: {wanted} is more than the {len(members)} analysed points "
                              f"of {unit} {c}; use at most {len(members)}, or null for all of them")
        chosen[c] = np.sort(rng.choice(members, wanted, replace=False)) if wanted < len(members) else members
    return chosen


def measure(points: np.ndarray, subsample: np.ndarray, settings: dict, where: str, log=print,
            previous: ClassHomology | None = None) -> ClassHomology:
    """One class in one layer: the k-NN hop-distance Betti numbers of ``points``, the Euclidean
    diagrams of ``points[subsample]``, and their distances to the previous layer's diagrams."""
    start = time.perf_counter()
    betti = homology.rips_betti(points, settings["k"], settings["epsilon"], settings["maxdim"])
    if betti.distinct == 1:
        log(f"{where}: all {len(points)} points coincide; b0 = 1 and no other homology")
    diagrams, diameter = homology.diagrams(points[subsample], settings["maxdim"])
    result = ClassHomology(betti.numbers, diagrams, betti.distinct, diameter)
    if previous is not None:
        pairs = [homology.distances(a, b) for a, b in zip(previous.diagrams, diagrams)]
        result.bottleneck, result.wasserstein = (np.array(column) for column in zip(*pairs))
    log(f"{where}: betti {betti.at_epsilon.tolist()} ({betti.distinct} distinct points), "
        f"{time.perf_counter() - start:.2f} s")
    return result


def input_homology(dataset: str, settings: dict, output, *, data_dir, download: bool = True, data_file=None,
                   points: dict | None = None, log=print) -> Homology:
    """Choose each class's points and subsample among the analysed points (``points``:
    config.points_slice, by default every test point), and measure the input layer."""
    from nntopo import data
    from nntopo.data.points import ALL_TEST_POINTS, analysed

    points = points or ALL_TEST_POINTS
    dataset_ = data.load(dataset, data_dir, download, train=points["split"] == "train", data_file=data_file)
    measured = analysed(dataset_, points)
    log(f"input of {dataset}: {measured.describe()}")
    x, labels = measured.x, measured.y  # a regression's labels: its targets' level sets
    levels = dataset_.levels
    task = {} if levels is None else {"task": tasks.REGRESSION, "level_sets": json.dumps(levels)}
    unit = _unit(task)
    points = homology_points(labels, settings, unit)  # per class, indices into the analysed points
    names = list(dataset_.classes if levels is None else (*tasks.level_set_names(levels), WHOLE))
    if levels is not None:  # a level set is a range of the target, not a kind of point: the whole cloud too
        points[_whole(levels)] = np.sort(np.concatenate(list(points.values())))
    # The subsample is chosen in the input, where every image is itself, and kept in every layer.
    subsample = {c: idx[homology.furthest_point_sample(x[idx], min(settings["diagram_points"], len(idx)))]
                 for c, idx in points.items()}
    known = store.read_attrs(data_file).get("known_betti", "{}") if data_file else "{}"
    layer = {c: measure(x[idx], _positions(idx, subsample[c]), settings,
                        f"input, {_named(c, names, unit, _whole(levels))}", log)
             for c, idx in points.items()}
    attrs = store.provenance(dataset, "", settings["seed"], settings, class_names=json.dumps(names),
                              known_betti=known, **measured.attrs(), **_parameters(settings), **task)
    result = Homology(points, subsample, {INPUT_LAYER: layer}, attrs)
    store.write_homology(output, result)
    return result


def model_homology(activations_path, input_path, settings: dict, outputs, log=print) -> Homology:
    """Every layer of one model after the input, each class on the points the input chose."""
    acts = store.read_activations(activations_path)
    first = store.read_homology(input_path)
    # The input file must be of these settings and these points: a stale one would mix scales or
    # images between depth 0 and the rest.
    stale = f"; delete {input_path} so that it is measured again"
    if json.loads(first.attrs["config"]) != settings or first.attrs["dataset"] != acts.attrs["dataset"]:
        raise store.StoreError(f"{input_path} was measured with other homology settings or data{stale}")
    if "points" in first.attrs and json.loads(first.attrs["points"]) != acts.points:  # (older files: none)
        raise store.StoreError(f"{input_path} measured the points {first.attrs['points']}, but {activations_path} "
                                 f"holds {json.dumps(acts.points)}{stale}")
    if tasks.levels_from_attrs(first.attrs) != acts.levels:
        raise store.StoreError(f"{input_path} and {activations_path} are not of the same task and level sets{stale}")
    unit, whole = _unit(acts.attrs), _whole(acts.levels)
    for c, idx in first.points.items():
        if idx.max(initial=-1) >= len(acts.labels) or not (c == whole or np.all(acts.labels[idx] == c)):
            raise store.StoreError(f"{activations_path} and {input_path} disagree on the points of {unit} {c}{stale}")
    names = json.loads(first.attrs["class_names"])
    layers = {INPUT_LAYER: first.layers[INPUT_LAYER]}
    previous = layers[INPUT_LAYER]
    for name in store.layer_names(len(acts.hidden)):  # hidden_1 .. output
        values = acts.layer(name)
        previous = layers[name] = {
            c: measure(values[idx], _positions(idx, first.subsample[c]), settings,
                       f"{name}, {_named(c, names, unit, whole)}", log, previous[c])
            for c, idx in first.points.items()
        }
    attrs = store.provenance(acts.attrs["dataset"], acts.attrs["model"], acts.attrs["seed"], settings,
                              **{**store.carried(acts.attrs), "points": json.dumps(acts.points)},
                              class_names=first.attrs["class_names"], known_betti=first.attrs["known_betti"],
                              **_parameters(settings),
                              **{key: first.attrs[key] for key in ("task", "level_sets") if key in first.attrs})
    result = Homology(first.points, first.subsample, layers, attrs)
    store.write_homology(outputs.data, result)
    table = homology_table(result)
    with store.atomic(outputs.table) as tmp:
        table.to_csv(tmp, index=False)
    return result


def _positions(points: np.ndarray, subsample: np.ndarray) -> np.ndarray:
    """Where the subsample's points sit among a class's (sorted) measured points."""
    positions = np.searchsorted(points, subsample)
    if positions.max(initial=-1) >= len(points) or not np.array_equal(points[positions], subsample):
        raise store.StoreError("the diagrams' subsample holds points the class does not measure; delete the "
                                 "dataset's homology/input.h5 so that it is measured again")
    return positions


def _parameters(settings: dict) -> dict:
    return {key: settings[key] for key in ("k", "epsilon", "maxdim", "diagram_points")}


def homology_table(result: Homology) -> pd.DataFrame:
    """One row per layer and class: the keys, the points measured and distinct, then every measure's
    columns (nntopo.topology.measures.MEASURES)."""
    names = json.loads(result.attrs["class_names"])
    rows = []
    for depth, (layer, per_class) in enumerate(result.layers.items()):
        for c, measured in per_class.items():
            row = dict(zip(KEYS, (result.attrs["dataset"], result.attrs["model"], layer, depth, c, names[c])))
            row["points"], row["distinct"] = len(result.points[c]), measured.distinct
            rows.append({**row, **measure_row(measured)})
    return pd.DataFrame(rows)


def tables_with_scores(tables, scores: dict) -> pd.DataFrame:
    """The models' tables, one after another, with ``scores`` (model -> {column: value}) beside: every
    model's columns, NaN where a model has no such score (a classifier's error, a regressor's accuracy)."""
    summary = pd.concat([pd.read_csv(path) for path in tables], ignore_index=True)
    at = summary.columns.get_loc("class_name") + 1
    columns = list(dict.fromkeys(column for row in scores.values() for column in row))
    for i, column in enumerate(columns):
        summary.insert(at + i, column, [scores[model].get(column, float("nan")) for model in summary["model"]])
    return summary


def _scores(recorded: dict) -> dict:
    """A model's scores beside its homology: a classifier's training accuracy (on every training point in
    eval mode after training, metrics.json's train_error; in files without it, its last epoch's, running
    over the epoch's batches; an external network's on the training images, or unknown) and test accuracy,
    a regressor's training and test mean squared error and test relative L2 error (NaN where not recorded)."""
    if tasks.of_attrs(recorded) == tasks.REGRESSION:
        return {key: recorded.get(key, float("nan")) for key in ("train_mse", "test_mse", "test_relative_l2")}
    if recorded.get("train_error") is not None:
        train = 1 - recorded["train_error"]
    else:
        train = recorded["epochs"][-1]["train_accuracy"] if "epochs" in recorded else recorded.get("train_accuracy")
    return {"train_accuracy": float("nan") if train is None else train, "test_accuracy": recorded["test_accuracy"]}


def _title(attrs: dict) -> str:
    return (f"{attrs['dataset']} {attrs['model']}".strip() + f"\nk = {attrs['k']} neighbours, epsilon = "
            f"{attrs['epsilon']} hops; up to {attrs['diagram_points']} points per diagram")


def draw_model_figures(homology_path, table_path, outputs) -> None:
    """Rule homology_figures: a model's persistence diagrams by layer and the distances between
    consecutive layers."""
    from nntopo import plotting
    from nntopo.topology import plots

    result = store.read_homology(homology_path)
    names = json.loads(result.attrs["class_names"])
    title = _title(result.attrs)
    unit = _unit(result.attrs)
    plotting.save(plots.persistence_diagrams(result, names, title=f"persistence diagrams by layer\n{title}", unit=unit),
                  outputs.persistence_diagrams)
    plotting.save(plots.diagram_distances(pd.read_csv(table_path), names, unit=unit,
                                          title=f"distance between consecutive layers' diagrams\n{title}"),
                  outputs.diagram_distances)


def homology_summary(tables, metrics, input_path, outputs, min_train_accuracy: float = 0.0) -> pd.DataFrame:
    """Rule homology_summary: the table across models with each model's training accuracy (its last
    epoch's, running over the epoch's batches) and test accuracy (a regressor's errors, ``_scores``), and
    the homology-by-depth figure of the models whose training accuracy reached ``min_train_accuracy`` (the
    paper reads only perfect classifiers; a regressor has none, and every one is drawn)."""
    from nntopo import plotting
    from nntopo.topology import plots

    scores = {}
    for path in metrics:
        recorded = store.read_metrics(path)
        scores[recorded["model"]] = _scores(recorded)
    summary = tables_with_scores(tables, scores)
    with store.atomic(outputs.table) as tmp:
        summary.to_csv(tmp, index=False)
    attrs = store.read_attrs(input_path)
    known = {int(c): b for c, b in json.loads(attrs["known_betti"]).items()}
    if "train_accuracy" in summary:
        shown = summary[~(summary["train_accuracy"] < min_train_accuracy)]  # unknown (NaN): shown
    else:
        shown = summary
    left_out = summary["model"].nunique() - shown["model"].nunique()
    note = f"\n{left_out} of {summary['model'].nunique()} models left out: training accuracy below {min_train_accuracy}"
    figure = plots.betti_depth(shown, json.loads(attrs["class_names"]), known, unit=_unit(attrs),
                               title=f"homology by depth\n{_title({**attrs, 'model': ''})}" + (note if left_out else ""))
    plotting.save(figure, outputs.figure)
    return summary
