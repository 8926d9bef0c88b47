"""What the ablation of an external network costs, before and after issue 27's reuse (the work before the
silenced module once a chunk, several sets a pass, the job's threads), on a ResNet-style CNN:
``python -m benchmarks.external_ablation`` (MNIST under NNTOPO_DATA_DIR or data/).

The network: a stem (3 x 3 convolution without bias, batch normalisation, ReLU), 3 stages of 2 residual
blocks (16, 32 and 64 channels, the last two halving the image), a global average pool and a linear
head; trained one epoch on MNIST's training split (cached in benchmarks/out/external_ablation/). Its
recorded layers are stage2 (the middle) and pool (the last before the head). Two of analyse_layer's
ablations on the test points: the output layer's (its clusters, ranking and silencing every recorded
layer's top neurons) and the middle layer's (stage2's clusters, its own neurons), each with kmeans's and
hdbscan's clusters, top_k 5 and 20 random draws; the ablators built once per layer and shared by the
methods, as ``analysis.stage.ablators`` does. Timed: building each job's ablators and its tables, with
the code of commit 2a92e37 (one full pass of the network per silenced set: "before") and the code here
("after"), in turn, at 1 and 2 threads; the median of the repeats, and the tables compared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from nntopo import data
from nntopo.analysis.ablation import ablate_clusters
from nntopo.analysis.ablation.network import NetworkAblator
from nntopo.analysis.ranking import rank_neurons
from nntopo.clustering.methods import cluster_points, make_method
from nntopo.network import external

OUT = Path("benchmarks/out/external_ablation")
BEFORE = "2a92e37"  # the commit whose NetworkAblator ran the whole network once per silenced set
LAYERS = ["stage2", "pool"]
METHODS = {"kmeans": {"n_clusters": 10}, "hdbscan": {"min_cluster_size": 50}}
TOP_K, N_RANDOM, SEED = 5, 20, 0


class Block(nn.Module):
    def __init__(self, given: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(given, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = (nn.Sequential(nn.Conv2d(given, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))
                         if stride != 1 or given != channels else nn.Identity())

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True))
        self.stage1 = nn.Sequential(Block(16, 16), Block(16, 16))
        self.stage2 = nn.Sequential(Block(16, 32, 2), Block(32, 32))
        self.stage3 = nn.Sequential(Block(32, 64, 2), Block(64, 64))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(64, classes)

    def forward(self, x):
        return self.head(self.pool(self.stage3(self.stage2(self.stage1(self.stem(x))))).flatten(1))


def trained(mnist, log=print) -> nn.Module:
    """The network after one epoch of Adam on MNIST's training split (batch 128, seed 0), cached."""
    path = OUT / "resnet.pt"
    network = ResNet()
    if path.exists():
        network.load_state_dict(torch.load(path, weights_only=True))
        return network.eval()
    torch.manual_seed(0)
    x = torch.from_numpy(mnist.x_train).reshape(-1, 1, 28, 28)
    y = torch.from_numpy(mnist.y_train).long()
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    start = time.perf_counter()
    for batch in torch.randperm(len(x)).split(128):
        optimizer.zero_grad()
        nn.functional.cross_entropy(network(x[batch]), y[batch]).backward()
        optimizer.step()
    network.eval()
    with torch.no_grad():
        accuracy = float(np.mean([(network(x).argmax(1) == y).float().mean().item()
                                  for x, y in zip(torch.from_numpy(mnist.x_test).reshape(-1, 1, 28, 28).split(1000),
                                                  torch.from_numpy(mnist.y_test).split(1000))]))
    log(f"trained one epoch in {time.perf_counter() - start:.0f} s: test accuracy {accuracy:.4f}")
    OUT.mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), path)
    return network


def old_ablator():
    """NetworkAblator as commit ``BEFORE`` wrote it (one full pass per silenced set), as a module."""
    source = subprocess.run(["git", "show", f"{BEFORE}:nntopo/analysis/ablation/network.py"], check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "network_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("network_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NetworkAblator


def jobs(network, settings, x):
    """Per job (the output layer's, the middle layer's): its ablated layers' indices and each method's
    cluster labels and per-layer rankings, as analyse_layer's earlier stages would give them."""
    hidden, logits, _ = external.run(network, external.recorded_modules(network, settings),
                                     external.model_inputs(x, settings, [1, 28, 28]), 10, settings)
    made = {}
    for job, clustered, ablated in (("output", logits, [0, 1]), ("middle", hidden[0], [0])):
        methods = {}
        for method, params in METHODS.items():
            labels = cluster_points(make_method(method, SEED, params), clustered).labels
            methods[method] = (labels, {i: rank_neurons(hidden[i], labels, TOP_K) for i in ablated})
        made[job] = (ablated, methods)
    return made


def ablate(kind, job, network, settings, x, y, threads: int):
    """Seconds to build the job's ablators and write its tables with ``kind``, and the tables."""
    ablated, methods = job
    torch.set_num_threads(threads)
    start = time.perf_counter()
    tables = []
    for index in ablated:
        extra = {"threads": threads} if kind is NetworkAblator else {}
        ablator = kind(network, settings, x, index, y, [1, 28, 28], **extra)
        for labels, rankings in methods.values():
            tables.append(ablate_clusters(None, None, None, y, labels, rankings[index], top_k=TOP_K,
                                          n_random=N_RANDOM, seed=SEED, ablator=ablator))
    return time.perf_counter() - start, tables


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000, help="test points analysed (default all 10,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each, the median kept")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--before-repeats", type=int, default=None,
                        help="runs of the code before (default --repeats; it takes minutes a run)")
    args = parser.parse_args(argv)
    mnist = data.load("mnist", os.environ.get("NNTOPO_DATA_DIR", "data"), download=False)
    network = trained(mnist)
    x, y = mnist.x_test[:args.points], mnist.y_test[:args.points].astype(np.int64)
    settings = {"name": "resnet", "dataset": "mnist", "kind": "module", "files": {}, "layers": LAYERS,
                "output": None, "input_shape": [1, 28, 28], "unit_axis": 1, "spatial_reduction": "max"}
    made = jobs(network, settings, x)
    kinds = {"before": old_ablator(), "after": NetworkAblator}
    rows = []
    for threads in args.threads:
        for name, job in made.items():
            seconds, tables = {"before": [], "after": []}, {}
            for repeat in range(args.repeats):
                for label, kind in kinds.items():
                    if label == "before" and repeat >= (args.before_repeats or args.repeats):
                        continue
                    took, tables[label] = ablate(kind, job, network, settings, x, y, threads)
                    seconds[label].append(took)
                    print(f"{name} layer, {threads} thread(s), {label}: {took:.1f} s", flush=True)
            same = all(before.equals(after) for before, after in zip(tables["before"], tables["after"], strict=True))
            rows.append({"job": name, "threads": threads, "before_s": statistics.median(seconds["before"]),
                         "after_s": statistics.median(seconds["after"]), "runs_before": seconds["before"],
                         "runs_after": seconds["after"], "tables_equal": same})
    table = pd.DataFrame(rows)
    table["speedup"] = table["before_s"] / table["after_s"]
    print(table[["job", "threads", "before_s", "after_s", "speedup", "tables_equal"]].to_string(index=False))
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"points": len(x), "layers": LAYERS, "methods": METHODS, "top_k": TOP_K, "n_random": N_RANDOM,
              "torch": torch.__version__, "rows": rows}
    (OUT / "last.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
