"""The training stage: train one model of the grid and record its weights and test-set activations.

The algorithm (nntopo.network.train) does no file I/O; this module reads and writes the files.
"""

from __future__ import annotations

import json

import numpy as np

from nntopo import store


def train_and_record(dataset: str, model_id: str, settings: dict, outputs, *, data_dir, download: bool = True,
                     device: str = "auto", threads: int = 1, log=print, data_file=None) -> dict:
    """Train the model ``settings`` (its config slice) describe, then write its files.

    ``outputs`` has the paths ``state``, ``weights``, ``activations`` and ``metrics``.
    Returns the metrics written.
    """
    import torch

    from nntopo import data
    from nntopo.network import train

    torch.set_num_threads(threads)
    dataset_ = data.load(dataset, data_dir, download, data_file=data_file)
    what = (f"images of {dataset_.image_shape[0]}x{dataset_.image_shape[1]}" if dataset_.has_images
            else f"points in {dataset_.n_features}-D")
    log(f"{model_id} on {dataset}: {len(dataset_.x_train)} training, {len(dataset_.x_test)} test {what}")
    trained = train.train(dataset_, settings["widths"], settings["regularization"], settings["training"],
                          settings["seed"], device, log, activation=settings.get("activation"),
                          neural_persistence=settings["neural_persistence"], convolution=settings.get("convolution"))
    reduction = settings.get("spatial_reduction", "max")
    hidden, logits = train.record(trained.model, dataset_.x_test, reduction)
    if not all(np.isfinite(values).all() for values in (*hidden, logits)):  # a last step that diverged
        raise train.TrainingDiverged(f"the trained network's test activations hold NaN or infinite values; lower "
                                     f"training.lr (now {settings['training']['lr']})")
    predictions = logits.argmax(1)
    # A convolutional layer's channels are recorded reduced over space (the files say how).
    convolutions = [name for name in trained.model.layers if trained.model.is_convolution(name)]
    attrs = store.provenance(dataset, model_id, settings["seed"], settings, image_shape=list(dataset_.image_shape or ()),
                              **({"convolutions": convolutions, "spatial_reduction": reduction} if convolutions else {}))

    samples = trained.samples
    persistence = persistence_metrics(settings["neural_persistence"], trained.initial, trained.history, trained.seconds)
    from nntopo.topology.persistence import records

    metrics = {
        **{key: attrs[key] for key in ("dataset", "model", "seed")},
        "settings": settings,
        "device": trained.device,
        "epochs": trained.history,
        "epochs_trained": len(trained.history),
        "stopped_early_at": trained.stopped,
        "test_accuracy": float(np.mean(predictions == dataset_.y_test)),
        "neural_persistence": persistence,
        **train.weight_stats(trained.model),
        "train_seconds": trained.seconds,
        "samples_per_second": samples / trained.seconds,
        "gflops_per_second": train.flops_per_sample(trained.model) * samples / trained.seconds / 1e9,
        "threads": threads,
        "versions": store.versions(),
    }
    log(f"test accuracy {metrics['test_accuracy']:.4f}, weight L2 norm {metrics['weight_l2_norm']:.2f}, "
        f"near-zero weights {metrics['near_zero_fraction']:.1%}, {metrics['gflops_per_second']:.0f} GFLOP/s, "
        f"mean normalised NP {persistence['final']['mean_normalized']:.4f} (measuring it: {persistence['seconds']:.1f} s, "
        f"{persistence['share_of_training_seconds']:.1%} of training)")

    with store.atomic(outputs.state) as tmp:
        torch.save(trained.model.state_dict(), tmp)
    store.write_weights(outputs.weights, train.layers(trained.model), attrs,
                         extra=store.neural_persistence_writer(records(trained.initial, trained.history),
                                                                settings["neural_persistence"]))
    store.write_activations(outputs.activations, hidden, logits, dataset_.y_test, predictions, attrs)
    store.write_metrics(outputs.metrics, metrics)
    return metrics


def persistence_metrics(settings: dict, initial: dict, history: list[dict], train_seconds: float) -> dict:
    """metrics.json's neural persistence: its settings, the records at initialisation and at the end
    (every epoch's is in "epochs" and in weights.h5), and what measuring it cost beside training."""
    seconds = sum(entry["persistence_seconds"] for entry in history)
    return {**settings, "initial": initial, "final": history[-1]["neural_persistence"], "seconds": seconds,
            "share_of_training_seconds": seconds / train_seconds}


def recorded_network(state_path, attrs: dict, n_classes: int, *, data_dir, download: bool = False, threads: int = 1):
    """(the trained network of ``model.pt``, the test images it was recorded on): what replays it when
    the recorded activations are not enough (a convolutional layer's full maps). ``attrs`` are its
    files' root attributes (dataset, the training slice as "config", image_shape)."""
    import math

    import torch

    from nntopo import data
    from nntopo.network.model import load

    torch.set_num_threads(threads)
    image_shape = tuple(attrs.get("image_shape") or ())
    if not image_shape:
        raise store.StoreError(f"{state_path}: its files name no image shape, so its network cannot be rebuilt")
    model = load(state_path, json.loads(attrs["config"]), math.prod(image_shape), n_classes, image_shape)
    return model, data.load(attrs["dataset"], data_dir, download, train=False).x_test
