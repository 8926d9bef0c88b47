"""Networks nobody here wrote, analysed from a folder outside the repository through snakemake: an LSTM
classifier of digits (a class, its LSTM's output element as the layer) and a regressor of two real
targets (a torch.export program) on a regression arrays dataset. Their code imports torch and numpy,
not nntopo; the test trains them in that folder. Small: 300 analysed points, k-means only, each layer's
analysis alone (the figures are the regression study's, tests/workflow/test_regression.py)."""

import json
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from nntopo import data, paths, store
from nntopo import task as tasks

# The user's code, in their folder: it reads the arrays the test leaves there, never nntopo.
NETWORKS = '''
import sys

import numpy as np
import torch
from torch import nn


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.head = nn.Linear(12, 10)

    def forward(self, x):
        out, _ = self.lstm(x.reshape(-1, 8, 8))
        return self.head(out[:, -1])


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(64, 16), nn.Tanh())
        self.out = nn.Linear(16, 2)

    def forward(self, x):
        return self.out(self.hidden(x.flatten(1)))


def fit(model, x, y, loss, epochs):
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(64):
            optimiser.zero_grad()
            loss(model(x[batch]), y[batch]).backward()
            optimiser.step()
    return model.eval()


if __name__ == "__main__":
    torch.manual_seed(0)
    digits, ink = np.load("digits.npz"), np.load("ink.npz")
    lstm = fit(Recurrent(), torch.from_numpy(digits["x_train"]), torch.from_numpy(digits["y_train"]),
               nn.functional.cross_entropy, 10)
    torch.save(lstm.state_dict(), "lstm.pt")
    x = torch.from_numpy(ink["x_train"])
    regressor = fit(Regressor(), x, torch.from_numpy(ink["y_train"]).float(), nn.functional.mse_loss, 30)
    program = torch.export.export(regressor, (x[:2],), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, "regressor.pt2")
'''

STUDY = {
    "widths": [],
    "regularizations": ["none"],
    "device": "cpu",
    "analysis": {"points": 300},
    "clustering": {"methods": ["kmeans"], "top_k": 3, "kmeans": {"n_clusters": 4}},
    "ablation": {"n_random": 10},
    "homology": {"points_per_class": None, "diagram_points": 20, "k": 8},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from tests.workflow.test_workflow import snakemake

    folder = tmp_path_factory.mktemp("theirs")
    digits = data.load("digits")
    np.savez(folder / "digits.npz", x_train=digits.x_train, y_train=digits.y_train)

    def ink(x):  # the mean ink of an image's left and right halves
        halves = x.reshape(-1, 8, 8)
        return np.stack([halves[:, :, :4].mean(axis=(1, 2)), halves[:, :, 4:].mean(axis=(1, 2))], axis=1)

    np.savez(folder / "ink.npz", x_train=digits.x_train, y_train=ink(digits.x_train), x_test=digits.x_test,
             y_test=ink(digits.x_test))
    (folder / "networks.py").write_text(NETWORKS)
    subprocess.run([sys.executable, "networks.py"], cwd=folder, check=True, capture_output=True)
    config = {**STUDY, "datasets": ["digits", {"name": "ink", "kind": "arrays", "path": "ink.npz", "scaling": "none",
                                               "task": "regression", "level_sets": 4}],
              "external": [
                  {"name": "lstm", "dataset": "digits", "module": "networks:Recurrent", "state_dict": "lstm.pt",
                   "layers": [{"module": "lstm", "output": 0}], "unit_axis": -1},
                  {"name": "regressor", "dataset": "ink", "program": "regressor.pt2", "layers": ["hidden"],
                   "weight_modules": ["hidden.0", "out"]}]}
    # The analysis of each layer alone (its ablation and cluster tables), not every figure and summary of the
    # study: those are the same code for any network, run by the regression study (test_regression.py).
    targets = [pattern.format(**where(dataset, model, layer, "kmeans"))
               for dataset, model in (("digits", "lstm"), ("ink", "regressor")) for layer in ("hidden_1", "output")
               for pattern in (paths.ABLATION, paths.CLUSTER_TABLE)]
    snakemake(folder, config, *targets)
    return SimpleNamespace(dir=folder, config=config)


def where(dataset, model, layer=None, method=None):
    return {"dataset": dataset, "model": model, **({"layer": layer} if layer else {}),
            **({"method": method} if method else {})}


@pytest.mark.workflow
def test_an_lstm_classifier_is_analysed_with_its_ablation(study):
    import pandas as pd

    metrics = json.loads((study.dir / paths.METRICS.format(**where("digits", "lstm"))).read_text())
    assert metrics["layer_shapes"] == {"lstm[0]": [8, 12]} and metrics["test_accuracy"] > 0.5
    for layer in ("hidden_1", "output"):
        ablation = pd.read_csv(study.dir / paths.ABLATION.format(**where("digits", "lstm", layer, "kmeans")))
        assert len(ablation) == 4 and {"acc_cluster_before", "p_value"} <= set(ablation.columns)


@pytest.mark.workflow
def test_a_regressor_is_analysed_with_its_errors(study):
    import pandas as pd

    metrics = json.loads((study.dir / paths.METRICS.format(**where("ink", "regressor"))).read_text())
    assert metrics["task"] == "regression" and "test_mse" in metrics
    for layer in ("hidden_1", "output"):
        ablation = pd.read_csv(study.dir / paths.ABLATION.format(**where("ink", "regressor", layer, "kmeans")))
        assert len(ablation) == 4
        assert {"mse_cluster_before", "mse_cluster_after", "rise", "random_mean", "p_value"} <= set(ablation.columns)
        table = pd.read_csv(study.dir / paths.CLUSTER_TABLE.format(**where("ink", "regressor", layer, "kmeans")))
        assert {"mse", "relative_l2", "target_mean"} <= set(table.columns)
    # hidden_1's rows by hand: the output is `out` applied to the hidden units, so silencing a cluster's top
    # units is out(h * mask), from the recorded units and the weights of `out` (weights.h5's output layer).
    acts = store.read_activations(study.dir / paths.ACTIVATIONS.format(**where("ink", "regressor")))
    out = store.read_weights(study.dir / paths.WEIGHTS.format(**where("ink", "regressor")))[store.OUTPUT_LAYER]
    clusters = store.read_clusters(study.dir / paths.CLUSTERS.format(**where("ink", "regressor", "hidden_1", "kmeans")))
    ablation = pd.read_csv(study.dir / paths.ABLATION.format(**where("ink", "regressor", "hidden_1", "kmeans")))
    hidden = acts.hidden[0].astype(np.float64)
    for row in ablation.itertuples():
        mask = np.ones(hidden.shape[1])
        mask[[int(n) for n in row.neurons.split()]] = 0
        members = clusters.labels == row.cluster
        after = (hidden[members] * mask) @ out.weight.T.astype(np.float64) + out.bias
        assert row.mse_cluster_after == pytest.approx(tasks.mse(after, acts.targets[members]), rel=1e-4)
        assert row.mse_cluster_before == pytest.approx(tasks.mse(acts.output[members], acts.targets[members]), rel=1e-4)
