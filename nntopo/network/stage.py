"""The training stage: train one model of the grid and record its weights and its activations on the
analysed points.

The algorithm (nntopo.network.train) does no file I/O; this module reads and writes the files.
"""

from __future__ import annotations

import json

import numpy as np

from nntopo import store
from nntopo import task as tasks
from nntopo.datasets import recorded_input_shape


def train_and_record(dataset: str, model_id: str, settings: dict, outputs, *, data_dir, download: bool = True,
                     device: str = "auto", threads: int = 1, log=print, data_file=None, points: dict | None = None) -> dict:
    """Train the model ``settings`` (its config slice) describe, then write its files: its activations
    on the analysed ``points`` (nntopo.config.points_slice: split, points, seed; every test point by
    default).

    ``outputs`` has the paths ``state``, ``weights``, ``activations`` and ``metrics``.
    Returns the metrics written.
    """
    import torch

    from nntopo import data
    from nntopo.data.points import ALL_TEST_POINTS, analysed
    from nntopo.network import train

    torch.set_num_threads(threads)
    dataset_ = data.load(dataset, data_dir, download, data_file=data_file)
    log(f"{model_id} on {dataset}: {len(dataset_.x_train)} training, {len(dataset_.x_test)} test {inputs_of(dataset_)}")
    trained = train.train(dataset_, settings["widths"], settings["regularization"], settings["training"],
                          settings["seed"], device, log, activation=settings.get("activation"),
                          neural_persistence=settings["neural_persistence"], convolution=settings.get("convolution"))
    chosen = analysed(dataset_, points or ALL_TEST_POINTS)
    log(f"recording the activations of {chosen.describe()}")
    reduction = settings.get("spatial_reduction", "max")
    hidden, logits = train.record(trained.model, chosen.x, reduction)
    if not all(np.isfinite(values).all() for values in (*hidden, logits)):  # a last step that diverged
        raise train.TrainingDiverged(f"the trained network's activations hold NaN or infinite values; lower "
                                     f"training.lr (now {settings['training']['lr']})")
    regression = train.is_regression(dataset_)
    # A regressor's predictions are its outputs' level sets, as its labels are its targets'.
    predictions = tasks.predicted(logits, dataset_.levels)
    # A convolutional layer's channels are recorded reduced over space (the files say how).
    convolutions = [name for name in trained.model.layers if trained.model.is_convolution(name)]
    attrs = store.provenance(dataset, model_id, settings["seed"], settings, **input_attrs(dataset_), **chosen.attrs(),
                              **({"convolutions": convolutions, "spatial_reduction": reduction} if convolutions else {}))

    samples = trained.samples
    persistence = persistence_metrics(settings["neural_persistence"], trained.initial, trained.history, trained.seconds)
    from nntopo.topology.persistence import record_epochs, records

    metrics = {
        **{key: attrs[key] for key in ("dataset", "model", "seed")},
        "settings": settings,
        "device": trained.device,
        "epochs": trained.history,
        "epochs_trained": trained.epochs,
        "stopped_early_at": trained.stopped,
        "stopped_by": trained.stopped_by,
        **(regression_scores(trained.model, dataset_, chosen, logits) if regression else {
            "test_accuracy": accuracy_on_test(trained.model, dataset_, chosen, predictions),
            "train_error": trained.train_error, "zero_training_error": trained.train_error == 0,
            "analysed_points": chosen.describe(),
            **({"analysed_accuracy": float(np.mean(predictions == chosen.y))} if chosen.split != "test" else {})}),
        "neural_persistence": persistence,
        **train.weight_stats(trained.model),
        "train_seconds": trained.seconds,
        "samples_per_second": samples / trained.seconds,
        "gflops_per_second": train.flops_per_sample(trained.model) * samples / trained.seconds / 1e9,
        "threads": threads,
        "versions": store.versions(),
    }
    score = (f"test MSE {metrics['test_mse']:.4g} (relative L2 {metrics['test_relative_l2']:.4f})" if regression else
             f"test accuracy {metrics['test_accuracy']:.4f}")
    log(f"{score}, weight L2 norm {metrics['weight_l2_norm']:.2f}, "
        f"near-zero weights {metrics['near_zero_fraction']:.1%}, {metrics['gflops_per_second']:.0f} GFLOP/s, "
        f"mean normalised NP {persistence['final']['mean_normalized']:.4f} (measuring it: {persistence['seconds']:.1f} s, "
        f"{persistence['share_of_training_seconds']:.1%} of training)")

    with store.atomic(outputs.state) as tmp:
        torch.save(trained.model.state_dict(), tmp)
    store.write_weights(outputs.weights, train.layers(trained.model), attrs,
                         extra=store.neural_persistence_writer(records(trained.initial, trained.history),
                                                                settings["neural_persistence"],
                                                                record_epochs(trained.history)))
    store.write_activations(outputs.activations, hidden, logits, chosen.y, predictions, attrs, chosen.index,
                            targets=chosen.targets)
    store.write_metrics(outputs.metrics, metrics)
    return metrics


def inputs_of(dataset) -> str:
    """A dataset's inputs in words, for the log: "images of 3x32x32" (channels x height x width) or
    "points in 2-D"."""
    if dataset.has_images:
        return f"images of {'x'.join(map(str, dataset.input_shape))}"
    return f"points in {dataset.n_features}-D"


def input_attrs(dataset) -> dict:
    """The root attributes that say what a network read: one input's shape (``input_shape``: channels,
    height, width or dimensions; ``image_shape``: height, width, [] for points), how the inputs were
    scaled (JSON of Dataset.scaling), and a regression's task and level sets (nntopo.task.attrs_of)."""
    return {"input_shape": list(dataset.input_shape), "image_shape": list(dataset.image_shape or ()),
            "scaling": json.dumps(dataset.scaling, sort_keys=True), **tasks.attrs_of(dataset.levels)}


def accuracy_on_test(model, dataset, chosen, predictions: np.ndarray) -> float:
    """Accuracy on the whole test split, whichever points were recorded (their predictions serve when
    they are that split)."""
    from nntopo.network import train

    if not (chosen.split == "test" and len(chosen.index) == len(dataset.y_test)):
        predictions = train.predict(model, dataset.x_test)
    return float(np.mean(predictions == dataset.y_test))


def regression_scores(model, dataset, chosen, outputs: np.ndarray) -> dict:
    """metrics.json's scores of a regressor: its task, the test split's MSE and relative L2 error, the
    training split's MSE, and, when the analysed points are not the test split, their MSE and relative L2
    (``outputs``: the recorded outputs of the ``chosen`` points)."""
    from nntopo.network import train

    whole_test = chosen.split == "test" and len(chosen.index) == len(dataset.y_test)
    test = outputs if whole_test else train.outputs(model, dataset.x_test)
    analysed = {}
    if chosen.split != "test":
        analysed = {"analysed_mse": tasks.mse(outputs, chosen.targets),
                    "analysed_relative_l2": tasks.relative_l2(outputs, chosen.targets)}
    return {"task": tasks.REGRESSION, "test_mse": tasks.mse(test, dataset.targets_test),
            "test_relative_l2": tasks.relative_l2(test, dataset.targets_test),
            "train_mse": tasks.mse(train.outputs(model, dataset.x_train), dataset.targets_train),
            "analysed_points": chosen.describe(), **analysed}


def persistence_metrics(settings: dict, initial: dict, history: list[dict], train_seconds: float) -> dict:
    """metrics.json's neural persistence: its settings, the records at initialisation and at the end
    (every epoch's is in "epochs" and in weights.h5), and what measuring it cost beside training."""
    seconds = sum(entry["persistence_seconds"] for entry in history)
    return {**settings, "initial": initial, "final": history[-1]["neural_persistence"], "seconds": seconds,
            "share_of_training_seconds": seconds / train_seconds}


def recorded_network(state_path, attrs: dict, n_classes: int, *, data_dir, download: bool = False, threads: int = 1,
                     data_file=None, point_index=None):
    """(the trained network of ``model.pt``, the inputs of the points it was recorded on, flat): what
    replays it when the recorded activations are not enough (a convolutional layer's full maps).
    ``attrs`` are its files' root attributes (dataset, the training slice as "config", input_shape
    or, in older files, image_shape, and points); ``point_index`` is activations.h5's (needed when
    the points were a subsample); ``data_file`` the prepared dataset's data.h5, if it has one."""
    import math

    import torch

    from nntopo.data import DataError
    from nntopo.data.points import of_files
    from nntopo.network.model import load

    torch.set_num_threads(threads)
    shape = recorded_input_shape(attrs)
    if not shape:
        raise store.StoreError(f"{state_path}: its files name no input shape, so its network cannot be rebuilt")
    model = load(state_path, json.loads(attrs["config"]), math.prod(shape), n_classes, shape)
    try:
        _, points = of_files(attrs, point_index, data_dir=data_dir, download=download, data_file=data_file,
                             where=str(state_path))
    except DataError as error:  # the files do not say which points: theirs to fix
        raise store.StoreError(str(error)) from None
    return model, points.x
