"""Train one network on in-memory tensors, then record its weights and its activations on given inputs.

A classifier (one score per class) learns with cross-entropy; a regressor (a dataset with
``task: regression``, nntopo.task) outputs its d targets' values and learns with mean squared error."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from nntopo import task as tasks
from nntopo.data import Dataset
from nntopo.network.model import Network, add_penalty_gradient, build, initialise
from nntopo.network.stopping import stopping_epoch
from nntopo.plotting import NEAR_ZERO
from nntopo.store import Layer
from nntopo.topology import persistence


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class Trained:
    model: Network
    device: str
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0  # training images seen, over all epochs
    initial: dict = field(default_factory=dict)  # neural persistence of the weights at initialisation
    epochs: int = 0  # epochs run
    stopped_by: str | None = None  # "early_stopping", "zero_error" or "no_progress" when training ended early
    train_error: float | None = None  # a classifier's share of training points misclassified, eval mode, at the end

    @property
    def stopped(self) -> int | None:
        """The epoch early stopping ended training at, if it did."""
        return self.epochs if self.stopped_by == "early_stopping" else None


VALIDATION_SEED = 0  # the validation images are the same for every model of a study


def is_regression(data: Dataset) -> bool:
    return data.task == tasks.REGRESSION


def goals(data: Dataset, split: str) -> np.ndarray:
    """What the loss compares a network's outputs with: a classifier's labels, a regressor's targets
    (float32, the network's precision)."""
    if is_regression(data):
        return data.targets_of(split).astype(np.float32)
    return data.y_train if split == "train" else data.y_test


def validation_split(data: Dataset, share: float | None):
    """(x_train, y_train, x_validation, y_validation): ``share`` of the training images held out, chosen
    by a fixed seed; no validation images when ``share`` is None. y: ``goals`` (labels or targets)."""
    y_train = goals(data, "train")
    if not share:
        return data.x_train, y_train, data.x_train[:0], y_train[:0]
    order = np.random.default_rng(VALIDATION_SEED).permutation(len(data.x_train))
    n_validation = max(1, round(share * len(order)))
    keep, held = np.sort(order[n_validation:]), np.sort(order[:n_validation])
    return data.x_train[keep], y_train[keep], data.x_train[held], y_train[held]


def persistence_record(model: Network, p: float, rng: np.random.Generator, log, bias_vertex: bool = False,
                       essential: bool = False) -> dict:
    """Neural persistence of the model's weights now, beside two controls: the same weights shuffled
    within each layer, and each layer's weight variance; ``bias_vertex`` and ``essential`` as config
    ``neural_persistence`` has them. Rieck et al. define it for fully connected layers: a CNN's
    convolutions are left out."""
    dense = model.dense_layers()
    return persistence.of_layers({name: layer.weight.detach().cpu().numpy() for name, layer in dense.items()},
                                 {name: layer.bias.detach().cpu().numpy() for name, layer in dense.items()},
                                 p, rng, bias_vertex, essential, log)


def learning_rate_factor(training: dict, steps: int):
    """The learning rate's factor at each step, as ``training.schedule`` asks (cosine when absent)."""
    schedule = training.get("schedule", "cosine")
    if schedule == "constant":
        return lambda step: 1.0
    if schedule == "halving":  # TF1's exponential_decay(lr, step, half_life, 0.5), not staircase
        return lambda step: 0.5 ** (step / training["half_life"])
    return lambda step: 0.5 * (1 + math.cos(math.pi * step / steps))


def is_check(epoch: int, epochs: int, zero_error: dict | None) -> bool:
    """Whether the history records ``epoch``: every epoch, or with ``zero_error`` its checks alone (the
    first epoch, every ``every``-th, and the last), as Naitzat et al.'s code reports its progress
    (estimators/nn_simple.py: ``step % display_step == 0 or step == 1``)."""
    return not zero_error or epoch == 1 or epoch % zero_error["every"] == 0 or epoch == epochs


def pick_device(choice: str = "auto") -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        from nntopo.config import ConfigError  # a user error: the job says so in one line

        raise ConfigError("device: cuda was asked for but torch sees no CUDA device; set device: auto or cpu")
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(choice)


def flops_per_sample(model: Network) -> int:
    """FLOPs of one image's forward and backward pass: 2 per multiply-add forward, 4 backward (a
    convolution's weight counts once per position of its feature map)."""
    return 6 * model.multiply_adds()


def train(data: Dataset, widths, regularization: dict, training: dict, seed: int,
          device: str = "auto", log=print, activation: dict | None = None,
          neural_persistence: dict | None = None, convolution: dict | None = None) -> Trained:
    """Adam with a cosine-decayed learning rate (``training.schedule``: or constant, or halving);
    deterministic on CPU for a given seed; weights drawn as ``training.init`` asks.

    After every epoch (and once before the first) the weights' neural persistence is measured with
    ``neural_persistence``'s p, its shuffled control drawn with its seed. ``training``'s
    ``validation_split`` holds images out of the training set; its ``early_stopping`` may end
    training early on their loss or on neural persistence; its ``zero_error`` ends it when every
    training point is classified right (the history then records its checks alone).
    """
    neural_persistence = neural_persistence or {"p": 2.0, "seed": 0}  # the schema's defaults
    options = {key: bool(neural_persistence.get(key)) for key in ("bias_vertex", "essential")}  # off when absent
    stopping = training.get("early_stopping") or {}
    device = pick_device(device)
    torch.manual_seed(seed)
    # Some CUDA kernels are nondeterministic; none of the CPU kernels used here is. The flag is set
    # for CUDA alone because setting it imports torch's compiler: 1.4 s of every training job.
    if device.type == "cuda":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # Convolutions on recent GPUs default to TF32 (10-bit mantissas): recorded channels would then
        # differ from the CPU's float64 replay (ablation, figures) by ~1e-3, beyond their checks.
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    # L2 and L1 drive weights and Adam's moments into subnormal floats, whose arithmetic is many times
    # slower on x86: the last epochs of mlp1024-l2 took 2.5x as long. Flushed to zero instead (values
    # under 1e-38, far below anything measured).
    torch.set_flush_denormal(True)
    shuffle = torch.Generator().manual_seed(seed)

    regression = is_regression(data)
    model = build(data.n_features, data.n_outputs, widths, regularization, activation, convolution,
                  data.input_shape)
    initialise(model, training.get("init"))
    model = model.to(device)
    x_train, y_train, x_valid, y_valid = (torch.from_numpy(a).to(device)
                                          for a in validation_split(data, training.get("validation_split")))
    x_test, y_test = torch.from_numpy(data.x_test).to(device), torch.from_numpy(goals(data, "test")).to(device)
    # A regressor's loss is the mean squared error per output value (torch's MSELoss, nntopo.task.mse).
    per_point = data.n_outputs if regression else 1

    epochs, batch_size = training["epochs"], training["batch_size"]
    steps = epochs * math.ceil(len(x_train) / batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=training["lr"])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, learning_rate_factor(training, steps))
    loss_fn = nn.MSELoss(reduction="sum") if regression else nn.CrossEntropyLoss(reduction="sum")

    shuffles = np.random.default_rng(neural_persistence["seed"])
    result = Trained(model, device.type,
                     initial=persistence_record(model, neural_persistence["p"], shuffles, log, **options))
    zero_error = None if regression else training.get("zero_error")
    best_accuracy = 0.0  # the best training accuracy of the checks so far (zero_error's give_up)
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        total_loss = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.long, device=device)
        order = torch.randperm(len(x_train), generator=shuffle).to(device)
        batches = list(order.split(batch_size))
        if model.norms and len(batches) > 1 and len(batches[-1]) == 1:  # batch statistics need two images
            batches[-2:] = [torch.cat(batches[-2:])]
        for batch in batches:
            x, y = x_train[batch], y_train[batch]
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            (loss / (len(batch) * per_point)).backward()
            add_penalty_gradient(model, regularization)
            optimizer.step()
            schedule.step()
            total_loss += loss.detach()
            if not regression:
                correct += (logits.detach().argmax(1) == y).sum()
        mean_loss = total_loss.item() / (len(x_train) * per_point)
        if not math.isfinite(mean_loss):
            raise TrainingDiverged(
                f"epoch {epoch}: the training loss is {mean_loss}; lower training.lr (now {training['lr']}) "
                f"or the {regularization['name']} regularization strength"
            )
        seconds = time.perf_counter() - start  # the training steps alone, as before NP was measured
        result.seconds += seconds
        result.samples += len(x_train)
        result.epochs = epoch
        if not is_check(epoch, epochs, zero_error):
            continue
        if regression:  # the running loss is the training MSE
            entry = {"epoch": epoch, "loss": mean_loss, "train_mse": mean_loss, "test_mse": mse(model, x_test, y_test)}
            if len(x_valid):
                entry["validation_loss"] = mse(model, x_valid, y_valid)
        else:
            entry = {
                "epoch": epoch,
                "loss": mean_loss,
                "train_accuracy": correct.item() / len(x_train),  # running, over the epoch's batches
                "test_accuracy": accuracy(model, x_test, y_test),
            }
            if len(x_valid):
                entry["validation_loss"], entry["validation_accuracy"] = evaluate(model, x_valid, y_valid)
            if zero_error:
                entry["train_error"] = error_rate(model, x_train, y_train)
        measured = time.perf_counter()
        entry["neural_persistence"] = persistence_record(model, neural_persistence["p"], shuffles, log, **options)
        entry["persistence_seconds"] = time.perf_counter() - measured
        entry["seconds"] = seconds
        result.history.append(entry)
        validation = f" val_loss {entry['validation_loss']:.4f}" if len(x_valid) else ""
        scores = (f"{validation} test_mse {entry['test_mse']:.4g}" if regression else
                  f" train_acc {entry['train_accuracy']:.4f}{validation} test_acc {entry['test_accuracy']:.4f}")
        log(f"epoch {epoch}/{epochs} loss {mean_loss:.4f}{scores} NP {entry['neural_persistence']['mean_normalized']:.4f} "
            f"({seconds:.1f} s, NP {entry['persistence_seconds']:.2f} s)")
        criterion = stopping.get("criterion")
        if criterion and stopping_epoch(result.history, criterion, stopping["patience"], stopping["min_delta"]) == epoch:
            log(f"early stopping ({criterion}): no improvement over {stopping['min_delta']} in "
                f"{stopping['patience']} epoch(s); training ends at epoch {epoch} of {epochs}")
            result.stopped_by = "early_stopping"
            break
        if zero_error:
            # Naitzat et al.'s checks (estimators/nn_simple.py): "Best accuracy achieved" ends a success,
            # "No progress, quit" a trial whose best accuracy did not rise since the last check.
            reached = 1 - entry["train_error"]
            if reached == 1:
                log(f"zero training error at epoch {epoch}: training ends")
                result.stopped_by = "zero_error"
                break
            if zero_error.get("give_up") and reached <= best_accuracy:
                log(f"no progress: the training accuracy {reached:.6f} is not above the best so far "
                    f"({best_accuracy:.6f}); training gives up at epoch {epoch} of {epochs}")
                result.stopped_by = "no_progress"
                break
            best_accuracy = max(best_accuracy, reached)
    if not regression:
        result.train_error = error_rate(model, x_train, y_train)
    return result


# Images per forward pass outside training: a convolutional layer's maps of 10,000 test images at
# once would take 0.4-1.7 GB; chunks of 1,000 change no number (every image is computed alone).
CHUNK = 1000


@torch.no_grad()
def logits_of(model: Network, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    return torch.cat([model(part) for part in x.split(CHUNK)])


def predict(model: Network, x: np.ndarray) -> np.ndarray:
    """The predicted classes of inputs ``x`` (flat, as the dataset holds them), in eval mode."""
    device = next(model.parameters()).device
    return logits_of(model, torch.from_numpy(x).to(device)).argmax(1).cpu().numpy()


def accuracy(model: Network, x: torch.Tensor, y: torch.Tensor) -> float:
    return (logits_of(model, x).argmax(1) == y).float().mean().item()


def error_rate(model: Network, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of points misclassified in eval mode, counted exactly (zero means zero)."""
    return int((logits_of(model, x).argmax(1) != y).sum()) / len(y)


def mse(model: Network, x: torch.Tensor, targets: torch.Tensor) -> float:
    """A regressor's mean squared error per output value in eval mode (the training loss's measure)."""
    return nn.functional.mse_loss(logits_of(model, x), targets).item()


def outputs(model: Network, x: np.ndarray) -> np.ndarray:
    """The outputs (a classifier's logits, a regressor's values) for inputs ``x``, in eval mode."""
    device = next(model.parameters()).device
    return logits_of(model, torch.from_numpy(x).to(device)).cpu().numpy()


def evaluate(model: Network, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy in eval mode."""
    logits = logits_of(model, x)
    return nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


REDUCTIONS = {"max": lambda maps: maps.amax(dim=(2, 3)), "mean": lambda maps: maps.mean(dim=(2, 3))}


def reduce_maps(h: torch.Tensor, reduction: str = "max") -> torch.Tensor:
    """A hidden activation as N x units: a convolutional layer's (N, C, H, W) maps reduced over space
    by ``reduction`` (max or mean), a dense layer's as it is."""
    return REDUCTIONS[reduction](h) if h.ndim == 4 else h


@torch.no_grad()
def record(model: Network, x: np.ndarray, reduction: str = "max") -> tuple[list[np.ndarray], np.ndarray]:
    """Hidden activations (after the activation function; a convolutional layer's channels reduced
    over space by ``reduction``) and output logits for inputs ``x``, in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    parts = []
    for chunk in torch.from_numpy(x).split(CHUNK):
        hidden, logits = model.forward_all(chunk.to(device))
        parts.append([reduce_maps(h, reduction).cpu().numpy() for h in hidden] + [logits.cpu().numpy()])
    arrays = [np.concatenate(column) for column in zip(*parts)]
    return arrays[:-1], arrays[-1]


def layers(model: Network) -> dict[str, Layer]:
    def numpy(tensor):
        return tensor.detach().cpu().numpy()

    result, reads = {}, None
    for name, layer in model.layers.items():
        normalisation = model.normalisation(name)
        if model.norm_after:  # the normalisation belongs to what the next layer reads
            result[name] = Layer(numpy(layer.weight), numpy(layer.bias), None, None, *(reads or ()))
            reads = tuple(map(numpy, normalisation)) if normalisation else None
        else:
            result[name] = Layer(numpy(layer.weight), numpy(layer.bias),
                                 *(map(numpy, normalisation) if normalisation else ()))
    return result


def weight_stats(model: Network) -> dict:
    """L2 norm of all weights and the share of near-zero weights, overall and per layer."""
    return weight_stats_of(layers(model))


def weight_stats_of(layers: dict[str, Layer]) -> dict:
    """``weight_stats`` of layers read or recorded (weights.h5's)."""
    per_layer = {}
    for name, layer in layers.items():
        w = layer.weight
        per_layer[name] = {"l2_norm": float(np.linalg.norm(w)), "near_zero_fraction": float(np.mean(np.abs(w) < NEAR_ZERO))}
    all_w = np.concatenate([layer.weight.ravel() for layer in layers.values()])
    return {
        "weight_l2_norm": float(np.linalg.norm(all_w)),
        "near_zero_fraction": float(np.mean(np.abs(all_w) < NEAR_ZERO)),
        "near_zero_threshold": NEAR_ZERO,
        "layers": per_layer,
    }

