"""What the benchmark studies and what each phase expects: the study's config written into a scratch
directory (--quick's settings merged in), the workflow's figure rules and the batch each draws, the
figure the one-figure phase deletes, the homology outputs the homology phase deletes and the rules
that must remake them, and the jobs a changed clustering parameter must rerun, derived from the config."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks.commands import ROOT, Workflow, job_key

# The quick study: the embedded digits, two small models (one hidden layer, and two, so that a layer
# without weight images is in it too), every method at small settings.
QUICK = {
    "datasets": ["digits"],
    "widths": [16, [16, 16]],
    "regularizations": ["l2"],
    "device": "cpu",
    "training": {"epochs": 2, "batch_size": 64, "lr": 0.005},
    "clustering": {
        "tsne": {"perplexity": 20, "max_iter": 250, "clusterer": {"name": "hdbscan", "min_cluster_size": 20}},
        "umap": {"n_neighbors": 10, "clusterer": {"name": "hdbscan", "min_cluster_size": 20}},
        "mapper": {"n_cubes": 5, "min_samples": 5},
    },
    "homology": {"points_per_class": None},  # digits has 52-55 test images a class
}

# The workflow's figure rules (rules/figures.smk) and the batch of nntopo.figures each one draws. The
# reference draws every output of the first three (an MLP's) in a process of its own; the last three
# draw a CNN's images, which the reference does not study.
FIGURE_RULES = {"model_figures": "MODEL_BATCH", "layer_figures": "LAYER_BATCH", "image_figures": "IMAGE_BATCH",
                "filter_figures": "FILTER_BATCH", "kernel_figures": "KERNEL_BATCH", "channel_figures": "CHANNEL_BATCH"}
MLP_FIGURE_RULES = ("model_figures", "layer_figures", "image_figures")
HOMOLOGY_RULES = {"input_homology", "homology", "homology_figures", "homology_summary", "all"}


def merge(base: dict, update: dict) -> dict:
    """``base`` with ``update`` written over it, nested dicts merged key by key (--quick's settings)."""
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


@dataclass
class Study:
    """The study being benchmarked, and where: the scratch directory's workflow, reference and logs."""

    args: argparse.Namespace
    scratch: Path
    raw: dict  # the config as written to the scratch directory
    configfile: Path
    cfg: dict  # the same, validated
    env: dict
    models: list[str]
    wf: Workflow
    record: dict = field(default_factory=dict)  # what goes to last.json

    @property
    def work(self) -> Path:
        return self.scratch / "workflow"

    @property
    def ref(self) -> Path:
        return self.scratch / "reference"

    @property
    def logs(self) -> Path:
        return self.scratch / "logs"

    @property
    def results(self) -> Path:
        return self.work / "results"


def prepare(args: argparse.Namespace) -> Study:
    """The scratch directory, and the study's config written into it (--quick's settings merged in)."""
    import yaml

    from nntopo import config as nnconfig

    scratch = (args.scratch or Path(tempfile.mkdtemp(prefix="nntopo-bench-"))).resolve()
    if args.scratch and scratch.exists() and any(scratch.iterdir()):
        sys.exit(f"bench: {scratch} is not empty; give an empty or new --scratch directory")
    for folder in ("workflow", "reference", "logs"):
        (scratch / folder).mkdir(parents=True, exist_ok=True)

    data_dir = Path(os.environ.get("NNTOPO_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
    env = {**os.environ, "NNTOPO_DATA_DIR": str(data_dir)}
    raw = yaml.safe_load(args.configfile.read_text()) or {}
    if args.quick:
        raw = merge(raw, QUICK)
    configfile = scratch / "config.yaml"
    configfile.write_text(yaml.safe_dump(raw, sort_keys=False))
    os.environ["NNTOPO_DATA_DIR"] = str(data_dir)
    cfg = nnconfig.load(configfile)
    shapes = [d for d in cfg["datasets"] if d in nnconfig.SHAPES]
    if shapes:  # the reference trains from data files alone
        sys.exit(f"bench: {', '.join(shapes)} cannot be benchmarked (generated point clouds); use a config with "
                 "mnist, fashion_mnist or digits")
    wf = Workflow(scratch / "workflow", configfile, args.cores, env, scratch / "logs")
    record = {"when": datetime.now().isoformat(timespec="seconds"), "quick": args.quick, "cores": args.cores,
              "scratch": str(scratch), "config": raw}
    return Study(args, scratch, raw, configfile, cfg, env, [str(m) for m in nnconfig.model_ids(cfg)], wf, record)


def pick_figure(work: Path, cfg: dict, models: list[str]) -> tuple[Path, str]:
    """The figure the one-figure phase deletes, and the rule whose batch writes it: the last model's
    neurons.png of the embedding method in its first layer with weight images (an image_figures
    batch), else that method's heatmap.png of the model's output layer (a layer_figures batch)."""
    from nntopo import config as nnconfig
    from nntopo import figures, paths
    from nntopo.models import ModelId

    method = cfg["figures"]["embedding"] if cfg["figures"]["embedding"] in cfg["clustering"]["methods"] \
        else cfg["clustering"]["methods"][0]
    dataset, model = cfg["datasets"][-1], models[-1]
    layers = nnconfig.layers_of(cfg, model)
    pixels = [layer for layer in layers if figures.shows_pixels(cfg, dataset, model, layer)]
    image_rule = "kernel_figures" if ModelId.parse(model).conv else "image_figures"  # rules/figures.smk
    figure, layer, rule = ("neurons", pixels[0], image_rule) if pixels else ("heatmap", layers[-1], "layer_figures")
    path = work / paths.fill(paths.METHOD_FIGURE, dataset=dataset, model=model, layer=layer, method=method,
                             figure=figure)
    if not path.exists():
        sys.exit(f"bench: {path} was not written by the full study; the one-figure phase needs it")
    return path, rule


def delete_homology(results: Path, cfg: dict) -> list[Path]:
    """Delete every output of the homology rules; return them (the plain command must remake them)."""
    from nntopo import config as nnconfig
    from nntopo import paths

    found = []
    for dataset in cfg["datasets"]:
        patterns = [paths.INPUT_HOMOLOGY, paths.SUMMARY_HOMOLOGY, paths.SUMMARY_BETTI_FIGURE]
        patterns += [paths.fill(p, model=str(m)) for m in nnconfig.model_ids(cfg)
                     for p in (paths.HOMOLOGY, paths.HOMOLOGY_TABLE, paths.HOMOLOGY_FIGURE)]
        for pattern in patterns:
            found += [p for p in results.parent.glob(paths.fill(pattern, dataset=dataset, figure="*")) if p.is_file()]
    for path in found:
        path.unlink()
    return found


def expected_after_change(cfg: dict, method: str) -> set[tuple[str, tuple]]:
    """The jobs a change to clustering ``method``'s parameters must rerun, from the rules: the method's
    cluster job of every analysed layer; what reads them: per layer analyse_layer and layer_figures
    (every method's at once; k-means' manifold is drawn on the embedding method's points), and
    image_figures where the ranked layer sees the pixels (a CNN's kernel_figures there, and its
    channel_figures where the ranked layer is convolutional); per analysed hidden layer the space of its
    neurons (and neuron_filters where it sees the pixels); per model flow and model_figures (a method
    across layers); per dataset the summary (and seed_stability with several seeds). Never train or
    probe (which reads the activations alone)."""
    from nntopo import config as nnconfig
    from nntopo import figures

    rule_of = {id(getattr(figures, batch)): rule for rule, batch in FIGURE_RULES.items()}  # the rule drawing each batch
    jobs = set()
    for dataset in cfg["datasets"]:
        for model in map(str, nnconfig.model_ids(cfg)):
            for layer in nnconfig.layers_of(cfg, model):
                where = {"dataset": dataset, "model": model, "layer": layer}
                jobs |= {job_key("cluster", **where, method=method), job_key("analyse_layer", **where),
                         job_key("layer_figures", **where)}
                jobs |= {job_key(rule_of[id(tables)], **where) for tables in figures.image_batches(cfg, dataset, model, layer)}
                if layer != "output":  # the space of its neurons reads the rankings (rules/weights.smk)
                    jobs.add(job_key("neurons", **where))
                    if figures.shows_pixels(cfg, dataset, model, layer):
                        jobs.add(job_key("neuron_filters", **where))
            jobs |= {job_key(rule, dataset=dataset, model=model) for rule in ("flow", "model_figures")}
        jobs.add(job_key("summary", dataset=dataset))
        if len(cfg["seeds"]) > 1:
            jobs.add(job_key("seed_stability", dataset=dataset))
    return jobs


def changed_parameter(cfg: dict) -> tuple[dict, str, str]:
    """A copy of the config with one clustering parameter changed, the method, and a description."""
    changed = json.loads(json.dumps(cfg))
    methods = cfg["clustering"]["methods"]
    if "umap" in methods:
        old = cfg["clustering"]["umap"].get("min_dist", 0.1)
        new = 0.2 if old != 0.2 else 0.3
        changed["clustering"]["umap"]["min_dist"] = new
        return changed, "umap", f"clustering.umap.min_dist {old} -> {new}"
    method = methods[0]
    block = changed["clustering"].setdefault(method, {})
    key = next((k for k, v in block.items() if isinstance(v, int) and not isinstance(v, bool)), None)
    if key is None:
        sys.exit(f"bench: no integer parameter of clustering.{method} to change; add umap to the methods")
    block[key] += 1
    return changed, method, f"clustering.{method}.{key} {cfg['clustering'][method][key]} -> {block[key]}"
