"""The ablation of an external network at a practical cost (nntopo/analysis/ablation/network.py): the
outputs of every silenced set, computed with the work before the silenced module done once a chunk and
several sets a pass, equal those of one full pass of the network per set (``_logits_without``), and the
tables of ``ablate_clusters`` are the same; for a residual CNN (bias-free convolutions, batch
normalisation, residual adds, in-place ReLUs), a network calling one module twice, an LSTM's output
element, a torch.export program, a regressor, and a network whose early modules alias or change
tensors in place."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from nntopo.analysis.ablation import ablate_clusters
from nntopo.analysis.ablation import network as ablation
from nntopo.analysis.ablation.network import NetworkAblator
from nntopo.analysis.ablation.silencing import Remembered
from nntopo.analysis.ranking import rank_neurons

N = 300  # three clean passes of 125 points, the last 50


class Block(nn.Module):
    """A residual block as torchvision's: one in-place ReLU module called twice, a 1 x 1 projection of
    the shortcut when the shape changes."""

    def __init__(self, given: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(given, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = (nn.Sequential(nn.Conv2d(given, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))
                         if stride != 1 or given != channels else None)

    def forward(self, x):
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Residual(nn.Module):
    def __init__(self, classes: int = 4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(inplace=True))
        self.stage1 = nn.Sequential(Block(6, 6), Block(6, 6))
        self.stage2 = nn.Sequential(Block(6, 10, 2), Block(10, 10))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(10, classes)

    def forward(self, x):
        return self.head(self.pool(self.stage2(self.stage1(self.stem(x)))).flatten(1))


class Twice(nn.Module):
    """One Linear module called twice in a row, one Tanh module three times."""

    def __init__(self, outputs: int = 3):
        super().__init__()
        self.shared, self.act = nn.Linear(6, 6), nn.Tanh()
        self.mid, self.head = nn.Linear(6, 6), nn.Linear(6, outputs)

    def forward(self, x):
        return self.head(self.act(self.mid(self.act(self.shared(self.act(self.shared(x)))))))


class Recurrent(nn.Module):
    """An LSTM over 5 steps of 3 features; the head reads its last step and its last hidden state."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.embed = nn.Linear(3, 8)
        self.lstm = nn.LSTM(8, 10, batch_first=True)
        self.mlp = nn.Linear(10, 12)
        self.head = nn.Linear(12, classes)

    def forward(self, x):
        out, (h, _) = self.lstm(torch.tanh(self.embed(x)))
        return self.head(torch.relu(self.mlp(out[:, -1] + h[-1])))


class AddOne(nn.Module):
    def forward(self, x):
        return x.add_(1)  # changes its input


class Held(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("value", torch.linspace(-1, 1, 4))

    def forward(self, x):
        return self.value  # a buffer, not a new tensor


class Hazards(nn.Module):
    """Modules before the silenced ReLU (which changes its input in place, so its own output is not
    handed back) whose outputs may not simply be handed back either: an Identity (its input), a module
    changing its input in place, an output the forward changes in place after, a buffer; beside
    ``kept``, one that may."""

    def __init__(self, classes: int = 4):
        super().__init__()
        self.ident, self.bump, self.held = nn.Identity(), AddOne(), Held()
        self.lin, self.lin2, self.kept = nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 4)
        self.act, self.mid, self.head = nn.ReLU(inplace=True), nn.Linear(20, 9), nn.Linear(9, classes)

    def forward(self, x):
        x = x * 1
        a = self.ident(x)
        a.relu_()  # x with it
        b = self.lin(x)
        self.bump(b)
        c = self.lin2(x)
        c.mul_(2)
        h = self.act(torch.cat([a, x, b, c, self.held(x).expand(len(x), -1) + self.kept(x)], 1))
        return self.head(torch.tanh(self.mid(h)))


def settings(layers, unit_axis=1, input_shape=None):
    """An external network's config slice, as config.external_slice gives it."""
    return {"name": "net", "dataset": "toy", "kind": "module", "files": {}, "layers": layers, "output": None,
            "input_shape": input_shape, "unit_axis": unit_axis, "spatial_reduction": "max"}


def randomised(network: nn.Module) -> nn.Module:
    """``network`` in eval mode with batch normalisation's statistics and affine parts away from their
    start, so that each changes the numbers."""
    torch.manual_seed(1)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return network.eval()


def seeded(kind):
    def build():
        torch.manual_seed(0)
        return randomised(kind())
    return build


RESIDUAL_LAYERS = ["stem", "stage1.1", "stage2.0.relu", "stage2", "pool"]

CASES = {  # network, its config slice, input shape of one point
    "residual": (seeded(Residual), settings(RESIDUAL_LAYERS), (1, 8, 8)),
    "twice": (seeded(Twice), settings(["shared", "act", "mid"]), (6,)),
    "lstm": (seeded(Recurrent),
             settings(["embed", {"module": "lstm", "output": 0}, "mlp"], unit_axis=-1, input_shape=[5, 3]), (15,)),
    "hazards": (seeded(Hazards), settings(["act", "mid"]), (4,)),
}


def inputs(shape, n=N, seed=0):
    return np.random.default_rng(seed).normal(size=(n, int(np.prod(shape)))).astype(np.float32)


def labels(n=N, classes=4, seed=1):
    return np.random.default_rng(seed).integers(0, classes, n)


def unit_sets(n_neurons: int, count: int = 11, seed: int = 2) -> list[np.ndarray]:
    """``count`` sets of units (11: one pass of 8 copies, then one of 3), the first of them all."""
    rng = np.random.default_rng(seed)
    drawn = [np.sort(rng.choice(n_neurons, size=int(rng.integers(1, n_neurons + 1)), replace=False))
             for _ in range(count - 1)]
    return [np.arange(n_neurons), *drawn]


class OnePassPerSet(NetworkAblator):
    """The ablator as it was: the network run through once per set on every point."""

    def _outputs_each(self, sets):
        return (self._logits_without(silenced) for silenced in sets)

    _scores_each = Remembered._scores_each


def ablators(case: str, index: int, targets=None):
    build, given, shape = CASES[case]
    x, network = inputs(shape), build()
    y = labels(classes=4 if case != "twice" else 3)
    made = [kind(network, given, x, index, y, shape=given["input_shape"] or list(shape), targets=targets)
            for kind in (NetworkAblator, OnePassPerSet)]
    return made


def assert_same_outputs(fast: NetworkAblator, reference: NetworkAblator, sets) -> None:
    reused = list(fast._outputs_each(sets))
    alone = list(reference._outputs_each(sets))
    scale = np.abs(reference.logits).max()
    for silenced, got, wanted in zip(sets, reused, alone, strict=True):
        np.testing.assert_allclose(got, wanted, rtol=1e-5, atol=1e-5 * scale, err_msg=f"units {silenced.tolist()}")
    assert not np.allclose(alone[0], reference.logits, atol=1e-3 * scale)  # silencing every unit changes the output


@pytest.mark.parametrize("case, index", [*[("residual", i) for i in range(len(RESIDUAL_LAYERS))],
                                         ("twice", 0), ("twice", 1), ("twice", 2),
                                         ("lstm", 0), ("lstm", 1), ("lstm", 2), ("hazards", 0), ("hazards", 1)])
def test_every_set_gives_the_outputs_of_one_full_pass_per_set(case, index):
    fast, reference = ablators(case, index)
    assert_same_outputs(fast, reference, unit_sets(fast.n_neurons))


@pytest.mark.parametrize("case, index", [("residual", 3), ("residual", 0), ("twice", 1), ("lstm", 1)])
def test_the_tables_are_those_of_one_full_pass_per_set(case, index):
    fast, reference = ablators(case, index)
    clusters = labels(classes=3, seed=3)
    clusters[:10] = -1  # points in no cluster
    ranking = rank_neurons(fast.hidden, clusters, 3)
    tables = [ablate_clusters(None, None, None, ablator.y_true, clusters, ranking, top_k=3, n_random=6, seed=0,
                              ablator=ablator) for ablator in (fast, reference)]
    pd.testing.assert_frame_equal(*tables, check_exact=True)


def test_a_regressors_squared_errors_are_those_of_one_full_pass_per_set():
    targets = np.random.default_rng(4).normal(size=(N, 3))
    fast, reference = ablators("twice", 2, targets)
    sets = unit_sets(fast.n_neurons)
    fast.remember(sets)
    reference.remember(sets)
    for silenced in sets:
        got, wanted = fast.scores(silenced), reference.scores(silenced)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, wanted, rtol=1e-5)
    np.testing.assert_allclose(reference.scores(sets[0]),
                               ((reference._logits_without(sets[0]) - targets) ** 2).sum(axis=1), rtol=1e-6)


def test_a_torch_export_program_gives_the_outputs_of_one_full_pass_per_set():
    """torch.export.unflatten's modules (InterpreterModules) served and silenced as any module."""
    model = seeded(Residual)()
    x = inputs((1, 8, 8))
    program = torch.export.export(model, (torch.from_numpy(x[:2]).reshape(2, 1, 8, 8),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    network = torch.export.unflatten(program)
    for index, layer in enumerate(["stage1", "stage2.0", "pool"]):
        given = settings(["stage1", "stage2.0", "pool"])
        fast, reference = (kind(network, given, x, index, labels(), shape=[1, 8, 8])
                           for kind in (NetworkAblator, OnePassPerSet))
        assert_same_outputs(fast, reference, unit_sets(fast.n_neurons, count=9))
        with torch.no_grad():  # and the program's outputs are the module's
            np.testing.assert_allclose(fast.logits, model(torch.from_numpy(x).reshape(-1, 1, 8, 8)).numpy(),
                                       rtol=1e-5, atol=1e-6)


def test_the_work_before_the_silenced_module_is_done_once_a_chunk():
    """Silencing the pool of the residual CNN: the stem's convolution runs in the clean pass of each
    chunk (3) and the two probes of the batch axes, never in the 2 silenced passes a chunk that 11 sets
    take (8 copies, then 3), where the stem hands back its kept output; the head runs in those alone."""
    fast, _ = ablators("residual", RESIDUAL_LAYERS.index("pool"))
    calls = {"stem.0": 0, "head": 0}
    modules = dict(fast.network.named_modules())
    handles = [modules[name].register_forward_hook(
        lambda module, inputs, output, name=name: calls.__setitem__(name, calls[name] + 1)) for name in calls]
    list(fast._outputs_each(unit_sets(fast.n_neurons)))
    for handle in handles:
        handle.remove()
    assert calls == {"stem.0": 3 + 2, "head": 3 * 2}


def test_only_outputs_that_nothing_else_holds_or_changes_are_handed_back():
    network = CASES["hazards"][0]()
    trace = ablation._Trace(network, network.act)
    trace.run(torch.from_numpy(inputs((4,), n=5)))
    kept = trace.reusable(None)
    # Not ident (its input), lin (bump changed it), bump (changes its input), lin2 (changed after), held
    # (a buffer), act (changes its input).
    assert set(kept) == {network.kept}
