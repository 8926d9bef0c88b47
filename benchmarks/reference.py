"""The default study done the straightforward way: the baseline benchmarks/bench.py compares with.

    python -m benchmarks.reference run --workdir DIR --configfile CONFIG [--workers 2] [--json OUT]

(from the repository root, where `python -m` finds the benchmarks package; a job changes into
--workdir itself.)

What "straightforward" means here, job by job; every job is its own fresh `python` process, and
at most ``--workers`` (default 2, like the workflow's --cores 2) run at once, a job starting as soon
as the job it reads from is done:

- train (one process per model): a torch ``DataLoader(TensorDataset(...), shuffle=True)`` feeds the
  batches, with the config's epochs, batch size, learning rate (Adam, cosine decay per step) and
  regularization, so the arithmetic is the same as the workflow's.
- cluster (one process per model, analysed layer and method: ``nntopo.config.layers_of``), on the
  same points as the workflow (the layer's test-set activations):
  ``kmeans``: scikit-learn KMeans with the config's n_clusters and n_init;
  ``tsne``: scikit-learn ``TSNE(random_state=seed)`` with its defaults (max_iter 1000, perplexity 30);
  ``umap``: ``umap.UMAP(random_state=seed)`` with its defaults: its own pynndescent neighbour search
  and numba functions compiled in every process, and n_epochs chosen by UMAP;
  ``mapper`` (and any other method): the repository's own method (KeplerMapper, already plain).
  The 2-D embeddings are then clustered with the config's ``clusterer``, as in the workflow. A layer
  whose points all coincide gets the workflow's one cluster (``cluster_points``), as there.
- homology (one process per model, after its training): every layer of the model, the input
  included, so nothing is shared between models (the workflow measures the input layer once per
  dataset and every model reuses its points and subsample), with dense distances: the full N x N
  Euclidean distance matrix gives the k nearest neighbours, all-pairs hop distances of the k-NN graph
  (no hop limit) go to ripser as a dense matrix. The numbers are the workflow's (up to how ties
  among equally near neighbours are broken: a stable argsort here, scikit-learn's search there); the
  dataset's input file the summary reads is written once, the same dense way, before any model's.
- figures (one process per figure or page): every output the workflow's figure rules write
  (plan.MLP_FIGURE_RULES: a model's figures and Mapper page across layers, each layer's figures, Mapper
  page and graph file, the weight images where the ranked layer sees the pixels), each drawn alone
  by the workflow's own code (``nntopo.figures.draw.draw_figure``), where the workflow draws a
  batch of them per job.
- everything else after clustering (each layer's rankings, ablation and agreement, the flow between
  layers, the linear probe, the summary) and the report: the workflow's own jobs, run by Snakemake
  on these files, each job a fresh process as Snakemake's ``script:`` jobs are. So this part of the
  baseline is whatever the workflow does for those stages.

Each process uses one thread (torch, BLAS, OpenMP), as each workflow job does, so that two workers
fill the two cores without oversubscription: the comparison is about the work done, not about
thread settings. The numba on-disk cache is left as it is.

The job subcommands (``train``, ``cluster``) are what ``run`` starts; they can be called by hand.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

from benchmarks.commands import ROOT, jobs_in, program, snakemake_command
from benchmarks.plan import FIGURE_RULES, MLP_FIGURE_RULES

ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")}


# --- the jobs ----------------------------------------------------------------------------------------

def penalty(net, regularization: dict):
    """The regularization as a term of the loss, the straightforward way (the workflow adds its
    gradient directly: nntopo.network.model.add_penalty_gradient)."""
    weights = net.weight_matrices()
    if regularization["name"] == "l2":
        return regularization["strength"] * sum(w.pow(2).sum() for w in weights)
    if regularization["name"] == "l1":
        return regularization["strength"] * sum(w.abs().sum() for w in weights)
    return 0.0


def train_job(cfg: dict, dataset: str, model_id: str) -> None:
    """Train one model with a DataLoader and write the same four files the workflow's train rule writes."""
    import numpy as np
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from nntopo import config as nnconfig
    from nntopo import data, paths, store
    from nntopo.network import model as nnmodel
    from nntopo.network import train as nntrain
    from nntopo.network.stage import persistence_metrics
    from nntopo.topology.persistence import records

    torch.set_num_threads(1)
    settings = nnconfig.training_slice(cfg, model_id)
    training, regularization, seed = settings["training"], settings["regularization"], settings["seed"]
    ds = data.load(dataset, nnconfig.data_dir(cfg), cfg["download"])

    torch.manual_seed(seed)
    net = nnmodel.build(ds.n_features, ds.n_classes, settings["widths"], regularization, settings["activation"])
    loader = DataLoader(TensorDataset(torch.from_numpy(ds.x_train), torch.from_numpy(ds.y_train)),
                        batch_size=training["batch_size"], shuffle=True)
    steps = training["epochs"] * len(loader)
    optimizer = torch.optim.Adam(net.parameters(), lr=training["lr"])
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps)))
    loss_fn = nn.CrossEntropyLoss()
    x_test, y_test = torch.from_numpy(ds.x_test), torch.from_numpy(ds.y_test)

    # Neural persistence after every epoch, as the workflow measures it (the same function).
    shuffles = np.random.default_rng(settings["neural_persistence"]["seed"])
    p = settings["neural_persistence"]["p"]
    initial = nntrain.persistence_record(net, p, shuffles, print)
    history, train_seconds = [], 0.0
    for epoch in range(1, training["epochs"] + 1):
        start = time.perf_counter()
        net.train()
        total, correct = 0.0, 0
        for x, y in loader:
            logits = net(x)
            loss = loss_fn(logits, y)
            correct += int((logits.argmax(1) == y).sum())
            objective = loss + penalty(net, regularization)
            optimizer.zero_grad()
            objective.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(y)
        seconds = time.perf_counter() - start
        train_seconds += seconds
        history.append({"epoch": epoch, "loss": total / len(ds.x_train), "train_accuracy": correct / len(ds.x_train),
                        "test_accuracy": nntrain.accuracy(net, x_test, y_test), "seconds": seconds})
        measured = time.perf_counter()
        history[-1]["neural_persistence"] = nntrain.persistence_record(net, p, shuffles, print)
        history[-1]["persistence_seconds"] = time.perf_counter() - measured
        print(f"epoch {epoch}: loss {history[-1]['loss']:.4f} test_acc {history[-1]['test_accuracy']:.4f} "
              f"({seconds:.1f} s)", flush=True)

    hidden, logits = nntrain.record(net, ds.x_test)
    predictions = logits.argmax(1)
    attrs = store.provenance(dataset, model_id, seed, settings, image_shape=list(ds.image_shape))
    samples = len(ds.x_train) * training["epochs"]
    metrics = {
        "dataset": dataset, "model": model_id, "seed": seed, "settings": settings, "device": "cpu",
        "epochs": history,
        "test_accuracy": float(np.mean(predictions == ds.y_test)),
        **nntrain.weight_stats(net),
        "train_seconds": train_seconds,
        "samples_per_second": samples / train_seconds,
        "gflops_per_second": nntrain.flops_per_sample(net) * samples / train_seconds / 1e9,
        "threads": 1,
        "versions": store.versions(),
        "neural_persistence": persistence_metrics(settings["neural_persistence"], initial, history, train_seconds),
        "reference": "DataLoader-fed training (benchmarks/reference.py)",
    }
    where = {"dataset": dataset, "model": model_id}
    for pattern in (paths.MODEL_STATE, paths.WEIGHTS, paths.ACTIVATIONS, paths.METRICS):
        Path(paths.fill(pattern, **where)).parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), paths.fill(paths.MODEL_STATE, **where))
    store.write_weights(paths.fill(paths.WEIGHTS, **where), nntrain.layers(net), attrs,
                         extra=store.neural_persistence_writer(records(initial, history), settings["neural_persistence"]))
    store.write_activations(paths.fill(paths.ACTIVATIONS, **where), hidden, logits, ds.y_test, predictions, attrs)
    store.write_metrics(paths.fill(paths.METRICS, **where), metrics)
    print(f"test accuracy {metrics['test_accuracy']:.4f}, {metrics['samples_per_second']:.0f} samples/s, "
          f"{metrics['gflops_per_second']:.1f} GFLOP/s", flush=True)


def cluster_job(cfg: dict, dataset: str, model_id: str, layer: str, method: str) -> None:
    """Cluster one model's test points in one layer with library defaults; write the file the
    workflow's cluster rule writes."""
    import numpy as np

    from nntopo import config as nnconfig
    from nntopo import paths, store
    from nntopo.clustering.methods import canonical_labels, cluster_points, coincide, make_method

    settings = nnconfig.clustering_slice(cfg, method)
    params = settings["params"]
    where = {"dataset": dataset, "model": model_id, "layer": layer, "method": method}
    acts = store.read_activations(paths.fill(paths.ACTIVATIONS, **where))
    points = np.asarray(acts.layer(layer), dtype=np.float64)
    seed = int(acts.attrs["seed"])

    def clusterer(embedding):
        spec = dict(params.get("clusterer") or {"name": "hdbscan", "min_cluster_size": 50})
        return make_method(spec.pop("name"), seed, spec).fit(embedding).labels

    start = time.perf_counter()
    embedding = graph = None
    if method == "kmeans" and not coincide(points):
        from sklearn.cluster import KMeans

        km = KMeans(params.get("n_clusters", 10), n_init=params.get("n_init", 10), random_state=seed)
        labels = canonical_labels(km.fit_predict(points))
    elif method == "tsne" and not coincide(points):
        from sklearn.manifold import TSNE

        embedding = TSNE(random_state=seed).fit_transform(points)
        labels = clusterer(embedding)
    elif method == "umap" and not coincide(points):
        import umap

        embedding = umap.UMAP(random_state=seed).fit_transform(points)
        labels = clusterer(embedding)
    else:  # Mapper and any other method; and the workflow's one cluster where every point coincides
        result = cluster_points(make_method(method, seed, params), points)
        labels, embedding = result.labels, result.embedding
        if result.graph is not None:
            graph = {name: getattr(result.graph, name) for name in store.MAPPER_ARRAYS}
    seconds = time.perf_counter() - start
    print(f"{method} on {layer} ({points.shape[0]} x {points.shape[1]}): {int(labels.max(initial=-1)) + 1} "
          f"clusters in {seconds:.1f} s", flush=True)

    attrs = store.provenance(acts.attrs["dataset"], acts.attrs["model"], seed, settings, method=method, space=layer,
                              parameters=json.dumps(params, sort_keys=True), seconds=seconds,
                              reference="library defaults (benchmarks/reference.py)")
    out = paths.fill(paths.CLUSTERS, **where)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    store.write_clusters(out, labels, embedding, graph, attrs)


def dense_rips_betti(points, k: int, epsilon: int, maxdim: int = 1):
    """nntopo.topology.homology.rips_betti the straightforward way: dense distances throughout."""
    import numpy as np
    from ripser import ripser
    from scipy.sparse import csgraph
    from scipy.spatial.distance import cdist

    from nntopo.topology.homology import Betti, betti_at, distinct_points, one_point

    unique = distinct_points(points)
    n = len(unique)
    if n == 1:
        return one_point(epsilon, maxdim)
    euclid = cdist(unique, unique)
    np.fill_diagonal(euclid, np.inf)
    nearest = np.argsort(euclid, axis=1, kind="stable")[:, : min(k, n - 1)]
    adjacency = np.zeros((n, n))
    adjacency[np.repeat(np.arange(n), nearest.shape[1]), nearest.ravel()] = 1
    adjacency = np.maximum(adjacency, adjacency.T)
    hops = csgraph.shortest_path(adjacency, directed=False, unweighted=True)
    hops[~np.isfinite(hops)] = 2 * n  # unreachable: beyond any scale asked for
    barcode = ripser(hops, distance_matrix=True, maxdim=maxdim, thresh=epsilon)["dgms"]
    return Betti(betti_at(barcode, range(1, epsilon + 1)), n)


def homology_job(cfg: dict, dataset: str, model_id: str) -> None:
    """Measure every layer of one model, its input included, with dense distances; write the files
    the workflow's homology rule writes (or, with model_id "-", the dataset's input file)."""
    from types import SimpleNamespace
    from unittest import mock

    from nntopo import config as nnconfig
    from nntopo import paths
    from nntopo.topology import homology, stage

    settings = nnconfig.homology_slice(cfg)
    with mock.patch.object(homology, "rips_betti", dense_rips_betti):
        if model_id == "-":
            output = paths.fill(paths.INPUT_HOMOLOGY, dataset=dataset)
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            stage.input_homology(dataset, settings, output, data_dir=nnconfig.data_dir(cfg), download=cfg["download"])
            return
        where = {"dataset": dataset, "model": model_id}
        own_input = Path(paths.fill(paths.HOMOLOGY, **where)).with_name("input-own.h5")
        stage.input_homology(dataset, settings, own_input, data_dir=nnconfig.data_dir(cfg), download=cfg["download"])
        outputs = SimpleNamespace(data=paths.fill(paths.HOMOLOGY, **where), table=paths.fill(paths.HOMOLOGY_TABLE, **where))
        stage.model_homology(paths.fill(paths.ACTIVATIONS, **where), own_input, settings, outputs)
        own_input.unlink()


# --- the study ---------------------------------------------------------------------------------------

def figure_jobs(cfg: dict) -> list[tuple[str, str, str, str]]:
    """Every output the workflow's figure rules write, as (dataset, model, layer or "-", name): the
    batches' output names (``figure`` or ``figure__method``), for each job the rule would run (as
    ``all_targets`` in rules/targets.smk asks for them)."""
    from nntopo import config as nnconfig
    from nntopo import figures

    jobs = []
    for dataset in cfg["datasets"]:
        for model in map(str, nnconfig.model_ids(cfg)):
            for rule in MLP_FIGURE_RULES:
                if rule == "model_figures":
                    layers = ["-"]
                else:
                    layers = [layer for layer in nnconfig.layers_of(cfg, model)
                              if rule != "image_figures" or figures.shows_pixels(cfg, dataset, model, layer)]
                names = figures.batch(getattr(figures, FIGURE_RULES[rule]), cfg)
                jobs += [(dataset, model, layer, name) for layer in layers for name in names]
    return jobs


def figure_output(cfg: dict, dataset: str, model_id: str, layer: str, name: str) -> str:
    """Where the workflow writes the output ``name`` of a batch (``layer`` "-" for a model's)."""
    from nntopo import paths
    from nntopo import figures

    spec = name.partition(figures.SEPARATOR)[0]
    where = {"dataset": dataset, "model": model_id, **({} if layer == "-" else {"layer": layer})}
    return paths.fill(figures.batch_outputs([{spec: figures.SPECS[spec]}], cfg)[name], **where)


def figure_job(cfg: dict, dataset: str, model_id: str, layer: str, name: str) -> None:
    """Write one output of a figure batch (``layer`` "-" for a model's) with the workflow's drawing code."""
    from nntopo import config as nnconfig
    from nntopo import figures
    from nntopo.figures.draw import draw_figure

    spec, _, method = name.partition(figures.SEPARATOR)
    table = [{spec: figures.SPECS[spec]}]
    layer_ = None if layer == "-" else layer
    # The inputs by need, as the batch's job gets them (need__method for a method's files).
    given = figures.batch_inputs(table, cfg, dataset, model_id, layer_)
    inputs = {need: given[need + figures.SEPARATOR + method] if need in figures.METHOD_NEEDS else given[need]
              for need in figures.SPECS[spec].needs}
    output = figure_output(cfg, dataset, model_id, layer, name)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    draw_figure(spec, inputs, output, figures.settings_of(spec, cfg, model_id, layer_), dataset, model_id, layer_,
                method or None, data_dir=nnconfig.data_dir(cfg), download=cfg["download"])


def run_study(workdir: Path, configfile: Path, workers: int = 2) -> dict:
    """The whole reference study in ``workdir``; returns its timings (seconds) and job counts."""
    from nntopo import config as nnconfig

    cfg = nnconfig.load(configfile)
    workdir.mkdir(parents=True, exist_ok=True)
    logs = workdir / "reference-logs"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, **ONE_THREAD}
    # The methods whose cluster files the workflow reads: the configured ones, and figures.embedding's.
    methods = list(dict.fromkeys([*cfg["clustering"]["methods"], cfg["figures"]["embedding"]]))
    models = [(dataset, str(model)) for dataset in cfg["datasets"] for model in nnconfig.model_ids(cfg)]

    def start(pool, name, *job):
        command = program("reference", *job, "--workdir", str(workdir), "--configfile", str(configfile))

        def call():
            began = time.perf_counter()
            with open(logs / f"{name}.log", "w") as log:
                code = subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
            return name, code, time.perf_counter() - began

        return pool.submit(call)

    timings: dict = {"jobs": {}}

    def finish(running: dict) -> None:
        """Wait for the jobs in ``running`` (future -> job); a finished job may add the jobs it enables."""
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                finished = running.pop(future)
                name, code, seconds = future.result()
                timings["jobs"][name] = seconds
                if code != 0:
                    tail = (logs / f"{name}.log").read_text()[-3000:]
                    raise SystemExit(f"reference job {name} failed (exit {code}):\n{tail}")
                if name.startswith("train-"):  # its clustering jobs can start now, every layer's
                    d, m = finished
                    for layer in nnconfig.layers_of(cfg, m):
                        for method in methods:
                            job = (d, m, layer, method)
                            running[start(pool, "cluster-" + "-".join(job), "cluster", *job)] = job
                    trained.append((d, m))
                if name.startswith("input_homology-"):
                    measured.append(finished[0])
                # A model's homology reads its activations, and starts after the dataset's input file
                # is written: that file must be older than every homology.h5, or the downstream
                # Snakemake run would measure them again.
                for d, m in [job for job in trained if job[0] in measured]:
                    trained.remove((d, m))
                    running[start(pool, f"homology-{d}-{m}", "homology", d, m)] = (d, m)

    trained: list = []  # models whose homology waits for their dataset's input file
    measured: list = []  # datasets whose input file is written
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        first = {start(pool, f"input_homology-{d}", "homology", d, "-"): (d,) for d in cfg["datasets"]}
        finish({**first, **{start(pool, f"train-{d}-{m}", "train", d, m): (d, m) for d, m in models}})
    timings["train_and_cluster_s"] = time.perf_counter() - began

    # The rest of the study: the workflow's own jobs for the stages after clustering but the figures,
    # then one process per figure, then the report.
    def snakemake_step(key: str, *extra: str) -> str:
        """One Snakemake run on the reference's files, timed as ``key``; returns its output."""
        t0 = time.perf_counter()
        done = subprocess.run(snakemake_command(workdir, configfile, workers) + list(extra), cwd=workdir, env=env,
                              capture_output=True, text=True)
        timings[key] = time.perf_counter() - t0
        (logs / f"snakemake-{key[:-2]}.log").write_text(done.stdout + done.stderr)
        if done.returncode != 0:
            raise SystemExit(f"reference: snakemake ({key[:-2]}) failed:\n{(done.stdout + done.stderr)[-3000:]}")
        return done.stdout + done.stderr

    ran = [rule for rule, _ in jobs_in(snakemake_step("downstream_s", "--omit-from", *MLP_FIGURE_RULES))]
    timings["downstream_jobs"] = len(ran)
    if {"train", "cluster", "homology", "input_homology"} & set(ran):
        raise SystemExit("reference: Snakemake redid training, clustering or homology; the baseline would not be "
                         f"what it claims (see {logs}/snakemake-downstream.log)")
    figures = figure_jobs(cfg)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        finish({start(pool, "figure-" + "-".join(job), "figure", *job): job for job in figures})
    timings["figures_s"] = time.perf_counter() - t0
    snakemake_step("report_s", "--report", str(workdir / "results" / "report.html"))
    timings["total_s"] = time.perf_counter() - began
    timings["figure_jobs"] = len(figures)
    timings["workers"] = workers
    timings["jobs_run"] = len(timings["jobs"]) + timings["downstream_jobs"]
    return timings


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, extra in (("run", []), ("train", ["dataset", "model"]), ("homology", ["dataset", "model"]),
                        ("cluster", ["dataset", "model", "layer", "method"]),
                        ("figure", ["dataset", "model", "layer", "name"])):
        p = sub.add_parser(name)
        for arg in extra:
            p.add_argument(arg)
        p.add_argument("--workdir", type=Path, required=True)
        p.add_argument("--configfile", type=Path, required=True)
        if name == "run":
            p.add_argument("--workers", type=int, default=2)
            p.add_argument("--json", type=Path, help="write the timings here")
    args = parser.parse_args(argv)
    if args.command == "run":
        timings = run_study(args.workdir.resolve(), args.configfile.resolve(), args.workers)
        text = json.dumps(timings, indent=2)
        if args.json:
            args.json.write_text(text + "\n")
        print(text)
        return
    from nntopo import config as nnconfig

    os.chdir(args.workdir)
    cfg = nnconfig.load(args.configfile)
    if args.command == "train":
        train_job(cfg, args.dataset, args.model)
    elif args.command == "cluster":
        cluster_job(cfg, args.dataset, args.model, args.layer, args.method)
    elif args.command == "homology":
        homology_job(cfg, args.dataset, args.model)
    else:
        figure_job(cfg, args.dataset, args.model, args.layer, args.name)


if __name__ == "__main__":
    main()
