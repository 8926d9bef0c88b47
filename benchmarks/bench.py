"""Benchmark the default study on a scratch copy of the results, against the straightforward reference.

    .venv/bin/python benchmarks/bench.py            # `make bench`: the default study (config.yaml)
    .venv/bin/python benchmarks/bench.py --quick    # a small study on the embedded digits, to try it out
    .venv/bin/python benchmarks/bench.py --cnn      # the CNN study (configs/cnn.yaml), no reference

(`python -m benchmarks.bench` from the repository root is the same. Run by path, this folder is not a
package to Python, so this module imports nothing from it: the programs it times, the reference and
the measurements of benchmarks/gemm.py and steps.py, run as `python -m benchmarks.<program>` in
processes of their own.)

In a fresh scratch directory (nothing in the repository's results/ is read or written), in order:

1. the full study from empty: `snakemake --cores 2` on the repository's config.yaml (every model,
   every analysed layer, every method), then `snakemake --report results/report.html`; the two
   times are added up;
2. a no-op dry run (`snakemake -n`), which must find nothing to do;
3. one figure deleted (the last model's first-hidden-layer neurons.png of the embedding method, in an
   image_figures batch), then the plain `snakemake --cores 2` again: it must run that one batch alone;
4. the homology alone: every homology output deleted (the dataset's input file, each model's files and
   figures, the summary's), then the plain command again: the homology stage's wall time when nothing
   runs beside it, an upper bound on what it adds to the full study (there it shares the cores with
   clustering). Then the homology of one class in one layer timed alone: 1,000 points of the largest
   class in every layer of every model (median of 3 each);
5. one clustering parameter changed (umap min_dist 0.1 -> 0.2, in a modified copy of the config): the
   dry run's plan is compared with the jobs the rules make depend on that method's clusters, derived
   from the config (`expected_after_change`: the method's cluster job of every analysed layer; per
   layer analyse_layer and layer_figures, image_figures where it applies; per model flow and
   model_figures; the summary), then the run is timed and must run the plan;
6. the reference (benchmarks/reference.py): the same study the straightforward way, timed in the
   same run, so the speed-up is a ratio measured on the same machine at the same moment.

It prints each phase's wall time, the job-seconds of each stage beside the reference's (where the
speed-up comes from), a per-rule table from the rules' `benchmark:` records, the
training throughput (samples/s, GFLOP/s from the layer sizes) of every model in both studies against
the machine's one-thread fp32 rate for that model's matrix products (the peak), and a table of the
targets, each met or not.
The numbers also go to benchmarks/out/last.json and the printout to benchmarks/out/last.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"

TARGETS = {
    "full_s": 300.0,  # the whole default study from empty, every layer, report included
    "speedup": 2.0,  # reference time / workflow time, same run
    "noop_s": 3.0,
    "one_figure_s": 10.0,
    "train_share": 0.70,  # of the machine's fp32 peak, for the 1024-wide models
    "peak_rss_mib": 2048.0,
    "homology_share": 0.25,  # homology's wall time alone / the rest of the full study
    "class_layer_s": 1.0,  # one class in one layer, 1,000 points, b0 and b1
    "persistence_share": 0.10,  # measuring neural persistence every epoch, against training's own time
}
CLASS_LAYER_POINTS = 1000
ISSUE_PEAK_GFLOPS = 140.0  # the issue's "about 140 GFLOP/s is reachable" on the original machine

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

LINES: list[str] = []


def say(text: str = "") -> None:
    """Print a line of the result (and keep it for benchmarks/out/last.txt)."""
    print(text, flush=True)
    LINES.append(text)


def progress(text: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


# --- running Snakemake and the benchmark's programs ----------------------------------------------------

def snakemake_command(workdir: Path, configfile: Path, cores: int) -> list[str]:
    """Snakemake on the repository's Snakefile, its files under ``workdir`` (the reference's runs too)."""
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(configfile), "--cores", str(cores)]


class Workflow:
    """Snakemake on the repository's Snakefile, with a scratch working directory."""

    def __init__(self, workdir: Path, configfile: Path, cores: int, env: dict, logs: Path):
        self.workdir, self.configfile, self.cores, self.env, self.logs = workdir, configfile, cores, env, logs

    def run(self, name: str, *args: str, configfile: Path | None = None) -> tuple[float, str]:
        command = [*snakemake_command(self.workdir, configfile or self.configfile, self.cores), *args]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=self.workdir, env=self.env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        output = done.stdout + done.stderr
        (self.logs / f"{name}.log").write_text(output)
        if done.returncode != 0:
            sys.exit(f"bench: `{' '.join(command[2:])}` failed (phase {name}):\n{output[-4000:]}")
        return seconds, output


def program(name: str, *args: str) -> list[str]:
    """The command that runs benchmarks/<name>.py; it must run in the repository root (``cwd=ROOT``),
    where `python -m` finds the benchmarks package."""
    return [sys.executable, "-m", f"benchmarks.{name}", *args]


def jobs_in(output: str) -> list[tuple[str, tuple]]:
    """(rule, sorted wildcards) of every job Snakemake lists in its output (a dry run's plan or a run's log)."""
    jobs = []
    for block in re.split(r"^(?=\s*(?:local)?rule \w+:)", output, flags=re.M):
        rule = re.match(r"\s*(?:local)?rule (\w+):", block)
        if not rule or rule[1] == "all":
            continue
        wildcards = re.search(r"^\s*wildcards: (.*)$", block, flags=re.M)
        pairs = tuple(sorted(tuple(p.split("=", 1)) for p in wildcards[1].split(", "))) if wildcards else ()
        jobs.append((rule[1], pairs))
    return jobs


def job_key(rule: str, **wildcards) -> tuple[str, tuple]:
    """A job as jobs_in() gives it: (rule, sorted (wildcard, value) pairs)."""
    return rule, tuple(sorted((name, str(value)) for name, value in wildcards.items()))


def describe(jobs) -> str:
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return ", ".join(f"{rule} x{n}" for rule, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "none"


# --- measurements ------------------------------------------------------------------------------------

def gemm_peak(env: dict, architectures: list[tuple[int, ...]], batch: int, reps: int = 10) -> dict:
    """One-thread fp32 GFLOP/s of plain matrix products (benchmarks/gemm.py): a 2048 x 2048 square (the
    raw ceiling), and per architecture (layer sizes, input to output) the products of one training step
    at ``batch`` (what training that model can reach): {"square": GFLOP/s, "training": {sizes: GFLOP/s}}."""
    architectures = [tuple(sizes) for sizes in architectures]
    command = program("gemm", "--batch", str(batch), "--reps", str(reps),
                      "--architectures", *map(describe_sizes, architectures))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return {"square": measured["square"], "training": dict(zip(architectures, measured["training"]))}


def training_steps(env: dict, steps: int = 10) -> list[dict]:
    """Samples/s and GFLOP/s of the default CNN's training step in each variant, and of two MLPs'
    beside it (benchmarks/steps.py)."""
    done = subprocess.run(program("steps", "--steps", str(steps)), cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def architecture(features: int, widths, classes: int = 10) -> tuple[int, ...]:
    """The layer sizes of a model, input to output."""
    return (features, *widths, classes)


def describe_sizes(sizes) -> str:
    return "-".join(map(str, sizes))


def benchmark_records(results: Path):
    """Every `benchmark:` record under results/benchmarks: (job as rule/wildcards..., seconds, max RSS MiB)."""
    root = results / "benchmarks"
    for path in sorted(root.rglob("*.tsv")):
        lines = path.read_text().splitlines()
        if len(lines) < 2:
            continue
        row = dict(zip(lines[0].split("\t"), lines[1].split("\t")))
        try:
            rss = float(row.get("max_rss", "nan"))
        except ValueError:
            rss = float("nan")
        yield path.relative_to(root).with_suffix(""), float(row["s"]), rss


def rule_table(results: Path) -> dict[str, dict]:
    """Per rule, from the `benchmark:` records: jobs, seconds, max RSS (MiB), the heaviest job."""
    rules: dict[str, dict] = {}
    for job, seconds, rss in benchmark_records(results):
        entry = rules.setdefault(job.parts[0], {"jobs": 0, "total_s": 0.0, "max_s": 0.0, "max_rss_mib": 0.0, "worst": ""})
        entry["jobs"] += 1
        entry["total_s"] += seconds
        entry["max_s"] = max(entry["max_s"], seconds)
        if rss == rss and rss > entry["max_rss_mib"]:
            entry["max_rss_mib"], entry["worst"] = rss, str(job)
    return dict(sorted(rules.items(), key=lambda kv: -kv[1]["total_s"]))


def stage_of(rule: str, job: str) -> str:
    """The stage a job belongs to, named alike for both studies: train, "cluster <method>", figures
    (figures, Mapper pages and graph files), homology (every layer's and the input's), or "after
    clustering" (analyse_layer: rankings, ablation, agreement; flow; probe; summary; and the homology's
    figures and summary: the same jobs in both)."""
    if rule in ("homology", "input_homology"):
        return "homology"
    if rule == "cluster":
        return f"cluster {job.replace('/', '-').rsplit('-', 1)[-1]}"  # the method ends the job's name
    if rule == "train":
        return "train"
    if rule == "figure" or rule in FIGURE_RULES:  # the reference's one-figure jobs, the workflow's batches
        return "figures"
    return "after clustering"  # analyse_layer, flow, probe, summary (and seed_stability)


def stage_seconds(results: Path, reference: dict | None = None) -> dict[str, float]:
    """Job-seconds per stage: from the `benchmark:` records under ``results``, and for the reference
    also its own jobs' times (``reference["jobs"]``, named "<rule>-<dataset>-<model>[-<layer>][-<method>]",
    "figure-<dataset>-<model>-<layer or ->-<output name>")."""
    stages: dict[str, float] = {}
    jobs = [(str(job.parts[0]), str(job), s) for job, s, _ in benchmark_records(results)]
    if reference:
        jobs += [(name.split("-", 1)[0], name, s) for name, s in reference["jobs"].items()]
    for rule, job, seconds in jobs:
        stage = stage_of(rule, job)
        stages[stage] = stages.get(stage, 0.0) + seconds
    return stages


def training_table(results: Path) -> list[dict]:
    """Per model: samples/s and GFLOP/s. An MLP's FLOPs are computed from its layer sizes (the hidden
    widths from the model id, the input and output sizes from weights.h5); a CNN's are training's own
    count (metrics.json's GFLOP/s: 6 per multiply-add of the forward pass, a kernel's counted at every
    position of its map)."""
    from nntopo import store
    from nntopo.models import ModelId

    rows = []
    for metrics_path in sorted(results.glob("*/*/metrics.json")):
        metrics = store.read_metrics(metrics_path)
        model = ModelId.parse(metrics["model"])
        widths = model.widths
        rate = metrics["samples_per_second"]
        if model.conv:
            sizes = model.architecture_name
            flops = metrics["gflops_per_second"] * 1e9 / rate
        else:
            layers = store.read_weights(metrics_path.parent / "weights.h5")
            sizes = architecture(layers["hidden_1"].weight.shape[1], widths, layers["output"].weight.shape[0])
            flops = 6 * sum(i * o for i, o in zip(sizes, sizes[1:]))  # per sample: 2 per weight forward, 4 backward
        rows.append({
            "model": metrics["model"],
            "sizes": sizes,
            "layers": sizes if model.conv else describe_sizes(sizes),
            "widths": list(widths),
            "convolutional": bool(model.conv),
            "flops_per_sample": flops,
            "train_s": metrics["train_seconds"],
            "samples_per_s": rate,
            "gflops": flops * rate / 1e9,
            "test_accuracy": metrics["test_accuracy"],
            "persistence_share": metrics["neural_persistence"]["share_of_training_seconds"],
        })
    return rows


# The SLURM executor plugin runs `scontrol show config` whenever Snakemake loads its plugins: with
# SLURM's client installed but no controller answering, that waits ~9 s on every Snakemake start.
SLOW_STARTUP = ("\n  (slow: is a SLURM client installed whose controller does not answer? The SLURM executor plugin "
                "runs `scontrol show config` at every Snakemake start; start the controller, or run where `sinfo` is not on PATH)")


def snakemake_startup(env: dict) -> float:
    """Seconds to import Snakemake's scheduler, which loads every installed executor plugin."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import snakemake.scheduling.job_scheduler"], env=env, check=True)
    return time.perf_counter() - began


def children_cpu_s() -> float:
    """CPU seconds (user + system) of all finished child processes so far, their own children included."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def children_max_rss_mib() -> float:
    """The largest resident set of any finished child process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


# --- what the phases delete, change and expect -------------------------------------------------------

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


def class_layer_times(results: Path, cfg: dict) -> dict:
    """The k-NN hop Betti numbers (b0 .. maxdim) of up to CLASS_LAYER_POINTS points of the largest
    class, in every layer of every model and each dataset's input, each the median of 3 runs, in this
    process (one thread): the issue's "homology of one class in one layer"."""
    import statistics

    import numpy as np
    from threadpoolctl import threadpool_limits

    from nntopo import config as nnconfig
    from nntopo import data, store
    from nntopo.topology import homology

    settings = nnconfig.homology_slice(cfg)
    times, sizes = {}, set()
    with threadpool_limits(1):
        for acts_path in sorted(results.glob("*/*/activations.h5")):
            acts = store.read_activations(acts_path)
            dataset = acts.attrs["dataset"]
            members = np.flatnonzero(acts.labels == np.bincount(acts.labels).argmax())[:CLASS_LAYER_POINTS]
            sizes.add(len(members))
            clouds = {f"{dataset} {acts.attrs['model']} {name}": acts.layer(name)
                      for name in store.layer_names(len(acts.hidden))}
            if f"{dataset} input" not in times:
                clouds[f"{dataset} input"] = data.load(dataset, nnconfig.data_dir(cfg), False, train=False).x_test
            for where, values in clouds.items():
                runs = []
                for _ in range(3):
                    start = time.perf_counter()
                    homology.rips_betti(values[members], settings["k"], settings["epsilon"], settings["maxdim"])
                    runs.append(time.perf_counter() - start)
                times[where] = statistics.median(runs)
    worst = max(times, key=times.get)
    return {"median_s": statistics.median(times.values()), "max_s": times[worst], "worst": worst, "count": len(times),
            "points": "/".join(map(str, sorted(sizes))), "times": times}


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


# --- the phases --------------------------------------------------------------------------------------

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


def introduce(study: Study) -> None:
    """The printout's head: the machine, Snakemake's start-up, the study."""
    from nntopo import config as nnconfig

    args, cfg, models = study.args, study.cfg, study.models
    say(f"nntopo benchmark {study.record['when']}{' (--quick: digits, small settings)' if args.quick else ''}")
    say(f"  machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start; "
        f"--cores {args.cores}; scratch {study.scratch}")
    startup = snakemake_startup(study.env)
    say(f"  Snakemake's own start-up (importing it, no workflow): {startup:.1f} s, paid by every phase below"
        + (SLOW_STARTUP if startup > 3 else ""))
    study.record["snakemake_startup_s"] = startup
    layers = sum(len(nnconfig.layers_of(cfg, m)) for m in models) * len(cfg["datasets"])
    say(f"  study: {', '.join(cfg['datasets'])} x {len(models)} models ({', '.join(models)}): {layers} analysed "
        f"layers x {len(cfg['clustering']['methods'])} methods ({', '.join(cfg['clustering']['methods'])}), "
        f"{cfg['training']['epochs']} epochs")


def machine_peaks(study: Study) -> tuple[dict, list[dict] | None]:
    """This machine's peak for each architecture: its training step's matrix products alone, one
    thread (benchmarks/gemm.py); with --cnn also the CNN's training steps (benchmarks/steps.py)."""
    from nntopo import config as nnconfig

    cfg = study.cfg
    features = {"digits": 8 * 8}  # the MNIST family: 28 x 28
    architectures = list(dict.fromkeys(architecture(features.get(d, 28 * 28), nnconfig.widths_of(w))
                                       for d in cfg["datasets"] for w in cfg["widths"]))
    progress("measuring the one-thread fp32 matrix-product peak of each architecture")
    gemm = gemm_peak(study.env, architectures, cfg["training"]["batch_size"])
    study.record["gemm_gflops"] = {"square": gemm["square"],
                                   "training": {describe_sizes(sizes): rate for sizes, rate in gemm["training"].items()}}
    steps = None
    if study.args.cnn:
        progress("timing the default CNN's training step in each layout, batch size and thread count, and two MLPs'")
        steps = training_steps(study.env)
        study.record["training_steps"] = steps
    return gemm, steps


@dataclass
class Full:
    """Phase 1: the full study from empty, then its report."""

    run_s: float
    report_s: float
    cpu_s: float
    rss_any_mib: float  # the largest process so far: any job, or Snakemake itself
    jobs: list
    rules: dict  # rule_table()
    training: list  # training_table()
    figures: int  # PNG files
    pages: int  # Mapper pages
    graph_files: int

    @property
    def seconds(self) -> float:
        return self.run_s + self.report_s


def full_study(study: Study) -> Full:
    progress("phase 1/6: the full study from empty (snakemake --cores %d)" % study.args.cores)
    results = study.results
    cpu_before = children_cpu_s()
    run_s, output = study.wf.run("full")
    jobs = jobs_in(output)
    progress(f"  {len(jobs)} jobs in {run_s:.1f} s; now the report")
    report_s, _ = study.wf.run("report", "--report", str(results / "report.html"))
    return Full(run_s, report_s, children_cpu_s() - cpu_before, children_max_rss_mib(), jobs, rule_table(results),
                training_table(results),
                figures=len(list(results.rglob("figures/**/*.png"))) + len(list(results.glob("*/summary/*.png"))),
                pages=len(list(results.rglob("figures/**/*.html"))),
                graph_files=len(list(results.rglob("clusters/*.graphml"))))


def noop_run(study: Study) -> tuple[float, bool]:
    """Phase 2: a dry run that must find nothing to do; its seconds, and whether it did."""
    progress("phase 2/6: no-op dry run")
    seconds, output = study.wf.run("noop", "-n")
    return seconds, "Nothing to be done" in output and not jobs_in(output)


@dataclass
class OneFigure:
    """Phase 3: one figure deleted and rebuilt by the plain command."""

    path: Path
    rule: str  # the rule whose batch writes it, the one job that must run
    seconds: float
    jobs: list
    ok: bool


def one_figure(study: Study) -> OneFigure:
    path, rule = pick_figure(study.work, study.cfg, study.models)
    progress(f"phase 3/6: rebuild {path.relative_to(study.work)} ({rule})")
    path.unlink()
    seconds, output = study.wf.run("one_figure")
    jobs = jobs_in(output)
    return OneFigure(path, rule, seconds, jobs, path.exists() and [r for r, _ in jobs] == [rule])


@dataclass
class HomologyAlone:
    """Phase 4: the homology stage alone, then one class in one layer at a time."""

    seconds: float
    deleted: list
    jobs: list
    ok: bool  # it remade what was deleted, with the homology's rules alone
    class_layer: dict  # class_layer_times()


def homology_alone(study: Study) -> HomologyAlone:
    progress("phase 4/6: the homology stage alone (its outputs deleted, then the plain command)")
    deleted = delete_homology(study.results, study.cfg)
    seconds, output = study.wf.run("homology_alone")
    jobs = jobs_in(output)
    # The plain command must remake exactly what was deleted, and run the homology's rules alone.
    ok = bool(deleted) and all(path.exists() for path in deleted) and \
        {rule for rule, _ in jobs} == HOMOLOGY_RULES - {"all"}
    progress(f"  {len(jobs)} jobs in {seconds:.1f} s; now one class in one layer at a time")
    return HomologyAlone(seconds, deleted, jobs, ok, class_layer_times(study.results, study.cfg))


@dataclass
class Change:
    """Phase 5: one clustering parameter changed: the plan against the jobs that depend on it, then the run."""

    method: str
    change: str  # what changed, from and to
    expected: set  # expected_after_change()
    planned: set
    ran: set
    seconds: float

    @property
    def ok(self) -> bool:
        """It planned exactly the expected jobs, ran its plan, and trained nothing."""
        return self.planned == self.expected and self.ran == self.planned and \
            not any(rule == "train" for rule, _ in self.planned)

    @property
    def own(self) -> int:
        """The planned jobs of the changed method itself."""
        return sum(1 for _, wc in self.planned if ("method", self.method) in wc)


def one_parameter(study: Study) -> Change:
    import yaml

    changed, method, change = changed_parameter(study.raw)
    changed_file = study.scratch / "config-changed.yaml"
    changed_file.write_text(yaml.safe_dump(changed, sort_keys=False))
    progress(f"phase 5/6: {change}")
    expected = expected_after_change(study.cfg, method)
    _, output = study.wf.run("incremental_plan", "-n", configfile=changed_file)
    planned = set(jobs_in(output))
    seconds, output = study.wf.run("incremental", configfile=changed_file)
    return Change(method, change, expected, planned, set(jobs_in(output)), seconds)


def reference_study(study: Study) -> dict:
    """Phase 6: the reference (benchmarks/reference.py) in the same run; its timings, wall and CPU
    time, and training table."""
    args, ref = study.args, study.ref
    progress(f"phase 6/6: the straightforward reference ({args.cores} workers); this is the long part")
    ref_json = study.scratch / "reference.json"
    start, cpu_before = time.perf_counter(), children_cpu_s()
    done = subprocess.run(program("reference", "run", "--workdir", str(ref), "--configfile", str(study.configfile),
                                  "--workers", str(args.cores), "--json", str(ref_json)),
                          cwd=ROOT, env=study.env, capture_output=True, text=True)
    reference_s = time.perf_counter() - start
    reference_cpu_s = children_cpu_s() - cpu_before
    (study.logs / "reference.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.exit(f"bench: the reference failed:\n{(done.stdout + done.stderr)[-4000:]}")
    return {**json.loads(ref_json.read_text()), "wall_s": reference_s, "cpu_s": reference_cpu_s,
            "training": training_table(ref / "results")}


# --- the printout ------------------------------------------------------------------------------------

def say_phases(study: Study, full: Full, noop: tuple[float, bool], figure: OneFigure, homology: HomologyAlone,
               change: Change, reference: dict | None) -> None:
    noop_s, noop_ok = noop
    class_layer = homology.class_layer
    say()
    say("Phases (wall seconds)")
    say(f"  full study from empty   {full.seconds:8.1f} s   ({full.run_s:.1f} s for {len(full.jobs)} jobs + "
        f"{full.report_s:.1f} s report; {full.figures} PNG figures, {full.pages} Mapper pages, {full.graph_files} graph files)")
    say(f"  no-op dry run           {noop_s:8.1f} s   ({'nothing to do' if noop_ok else 'it planned jobs!'})")
    say(f"  one figure rebuilt      {figure.seconds:8.1f} s   ({figure.path.relative_to(study.results)}; "
        f"jobs run: {describe(figure.jobs)})")
    say(f"  one parameter changed   {change.seconds:8.1f} s   ({change.change}; jobs run: {describe(change.ran)})")
    say(f"  homology alone          {homology.seconds:8.1f} s   ({len(homology.deleted)} outputs deleted; "
        f"jobs run: {describe(homology.jobs)})")
    say(f"  one class, one layer    {class_layer['median_s']:8.2f} s   (median; slowest {class_layer['max_s']:.2f} s in "
        f"{class_layer['worst']}; {class_layer['points']} points, {class_layer['count']} layers)")
    if reference:
        say(f"  reference study         {reference['wall_s']:8.1f} s   (train+cluster {reference['train_and_cluster_s']:.1f} s, "
            f"after clustering {reference['downstream_s']:.1f} s, {reference['figure_jobs']} figures and pages one process each "
            f"{reference['figures_s']:.1f} s, "
            f"report {reference['report_s']:.1f} s; {reference['jobs_run']} jobs, "
            f"{reference['workers']} workers)")
        say(f"  speed-up                {reference['wall_s'] / full.seconds:8.2f} x (reference / full study, wall time; "
            f"CPU time {reference['cpu_s']:.0f} s / {full.cpu_s:.0f} s = {reference['cpu_s'] / full.cpu_s:.2f} x, "
            f"less sensitive to other load)")


def say_stages(stages: dict, ref_stages: dict) -> None:
    """Where the speed-up comes from: job-seconds per stage, the workflow's beside the reference's."""
    say()
    say("Where the speed-up comes from: job-seconds per stage (each job's wall time, summed; both run 2 at a time)")
    say(f"  {'stage':<18} {'workflow':>9} {'reference':>10} {'ratio':>7}")
    order = sorted(set(stages) | set(ref_stages), key=lambda k: (k == "after clustering", -ref_stages.get(k, 0)))
    totals = {"all": (sum(stages.values()), sum(ref_stages.values()))}
    totals["all but t-SNE"] = tuple(t - d.get("cluster tsne", 0.0) for t, d in zip(totals["all"], (stages, ref_stages)))
    for name, (mine, theirs) in [*((k, (stages.get(k, 0.0), ref_stages.get(k, 0.0))) for k in order), *totals.items()]:
        say(f"  {name:<18} {mine:>9.1f} {theirs:>10.1f} {theirs / mine if mine else float('nan'):>6.2f}x")


def unrecorded_rules(full: Full) -> list[str]:
    """The rules of the full study that left no `benchmark:` record."""
    return sorted({rule for rule, _ in full.jobs} - set(full.rules))


def say_rules(full: Full) -> None:
    say()
    say("Per rule, full study (from the rules' benchmark: records; sorted by total)")
    say(f"  {'rule':<15} {'jobs':>5} {'total s':>9} {'mean s':>8} {'max s':>8} {'max RSS MiB':>12}  worst job")
    for rule, e in full.rules.items():
        say(f"  {rule:<15} {e['jobs']:>5} {e['total_s']:>9.1f} {e['total_s'] / e['jobs']:>8.1f} {e['max_s']:>8.1f} "
            f"{e['max_rss_mib']:>12.0f}  {e['worst']}")
    unrecorded = unrecorded_rules(full)
    if unrecorded:
        say(f"  (no benchmark: record for {', '.join(unrecorded)}; their jobs are only in the largest-process figure below)")
    say(f"  largest process of the full study (any job, or Snakemake itself): {full.rss_any_mib:.0f} MiB")


def say_training(study: Study, gemm: dict, training: list[dict], reference: dict | None) -> None:
    peaks = gemm["training"]
    say()
    say("Training throughput (FLOPs from the layer sizes: 6 per weight per sample)")
    say(f"  peak: one thread, fp32, the matrix products of one training step of the model's layer sizes at batch "
        f"{study.cfg['training']['batch_size']}, measured now: "
        + ", ".join(f"{describe_sizes(sizes)} {rate:.0f}" for sizes, rate in peaks.items())
        + f" GFLOP/s (a 2048 x 2048 product: {gemm['square']:.0f}; the issue's figure: {ISSUE_PEAK_GFLOPS:.0f})")
    say(f"  {'study':<10} {'model':<26} {'layer sizes':<22} {'train s':>8} {'samples/s':>10} {'GFLOP/s':>8} "
        f"{'% peak':>7} {'% 140':>6} {'test acc':>9} {'NP cost':>8}")
    studies = [("workflow", training)] + ([("reference", reference["training"])] if reference else [])
    for name, rows in studies:
        for r in rows:
            peak = peaks.get(r["sizes"], gemm["square"])  # a CNN's: the square product (no product of its own)
            say(f"  {name:<10} {r['model']:<26} {r['layers']:<22} {r['train_s']:>8.1f} {r['samples_per_s']:>10.0f} "
                f"{r['gflops']:>8.1f} {r['gflops'] / peak:>7.0%} {r['gflops'] / ISSUE_PEAK_GFLOPS:>6.0%} "
                f"{r['test_accuracy']:>9.4f} {r['persistence_share']:>8.1%}")


def say_steps(gemm: dict, steps: list[dict]) -> None:
    square = gemm["square"]
    say()
    say(f"Training steps, side by side (random images, Adam; best of 3 x 10 steps; % of the one-thread 2048 x 2048 "
        f"product, {square:.0f} GFLOP/s, which 2 threads can double)")
    say(f"  {'model':<14} {'batch':>6} {'threads':>8} {'layout':<14} {'samples/s':>10} {'GFLOP/s':>8} {'% peak':>7}")
    for r in steps:
        say(f"  {r['model']:<14} {r['batch']:>6} {r['threads']:>8} {'channels_last' if r['channels_last'] else 'NCHW':<14} "
            f"{r['samples_per_s']:>10.0f} {r['gflops']:>8.1f} {r['gflops'] / square:>7.0%}")


def targets(full: Full, noop: tuple[float, bool], figure: OneFigure, homology: HomologyAlone, change: Change,
            reference: dict | None, gemm: dict) -> list[tuple]:
    """Each target as (name, wanted, measured, met): met is True or False, None where not run, or a
    word where the number is only reported."""
    noop_s, noop_ok = noop
    full_s, training, rules, class_layer = full.seconds, full.training, full.rules, homology.class_layer
    mlps = [r for r in training if not r["convolutional"]]
    cnns = [r for r in training if r["convolutional"]]
    widest = max((max(r["widths"]) for r in mlps), default=0)
    wide = [r for r in mlps if max(r["widths"]) == widest]
    slowest_wide = min(wide, key=lambda r: r["gflops"]) if wide else None
    costliest = max(training, key=lambda r: r["persistence_share"])
    peak = gemm["training"].get(slowest_wide["sizes"], float("nan")) if wide else float("nan")
    worst_rule = max(rules.items(), key=lambda kv: kv[1]["max_rss_mib"]) if rules else ("-", {"max_rss_mib": 0.0, "worst": ""})
    unrecorded = unrecorded_rules(full)
    peak_rss = max(worst_rule[1]["max_rss_mib"], full.rss_any_mib if unrecorded else 0.0)
    rest_s = max(full_s - homology.seconds, 1e-9)  # the study without its homology, at most
    return [
        ("full study from empty (report included)", f"<= {TARGETS['full_s']:.0f} s", f"{full_s:.1f} s",
         full_s <= TARGETS["full_s"]),
        ("speed-up over the straightforward reference", f">= {TARGETS['speedup']:.0f}x",
         f"{reference['wall_s'] / full_s:.2f}x ({reference['wall_s']:.0f} s / {full_s:.0f} s)" if reference else "not run",
         reference['wall_s'] / full_s >= TARGETS["speedup"] if reference else None),
        ("no-op dry run", f"<= {TARGETS['noop_s']:.0f} s", f"{noop_s:.1f} s" + ("" if noop_ok else " (planned jobs!)"),
         noop_s <= TARGETS["noop_s"] and noop_ok),
        ("one figure rebuilt", f"<= {TARGETS['one_figure_s']:.0f} s, one job",
         f"{figure.seconds:.1f} s, {describe(figure.jobs)}", figure.seconds <= TARGETS["one_figure_s"] and figure.ok),
        ("one parameter change reruns only its jobs", f"{change.method} jobs + dependents",
         f"{len(change.planned)} jobs planned ({change.own} {change.method}), {len(change.ran)} run; "
         f"expected {len(change.expected)}"
         + ("" if change.ok else f"; extra {describe(change.planned - change.expected)}; "
                                 f"missing {describe(change.expected - change.planned)}"),
         change.ok),
        *([(f"training, {widest}-wide ({slowest_wide['model']}, the slower)", f">= {TARGETS['train_share']:.0%} of peak",
            f"{slowest_wide['gflops']:.0f} GFLOP/s = {slowest_wide['gflops'] / peak:.0%} of {peak:.0f} "
            f"({slowest_wide['gflops'] / ISSUE_PEAK_GFLOPS:.0%} of {ISSUE_PEAK_GFLOPS:.0f})",
            slowest_wide["gflops"] >= TARGETS["train_share"] * peak)] if wide else []),
        *([(f"CNN training ({min(cnns, key=lambda r: r['gflops'])['model']}, the slowest)", "reported",
            f"{min(r['gflops'] for r in cnns):.0f} GFLOP/s = {min(r['gflops'] for r in cnns) / gemm['square']:.0%} of the "
            f"square product's {gemm['square']:.0f}", "reported")] if cnns else []),
        ("homology's share of the study's wall time", f"<= {TARGETS['homology_share']:.0%}",
         (f"{homology.seconds / rest_s:.0%} ({homology.seconds:.0f} s alone / {rest_s:.0f} s the rest; an upper bound)"
          if homology.ok else f"the homology phase ran {describe(homology.jobs)}, not the homology alone"),
         homology.ok and homology.seconds <= TARGETS["homology_share"] * rest_s),
        ("homology (b0, b1) of one class in one layer", f"<= {TARGETS['class_layer_s']:.0f} s, "
         f"{CLASS_LAYER_POINTS} points", f"slowest {class_layer['max_s']:.2f} s ({class_layer['worst']}; "
         f"{class_layer['points']} points), median {class_layer['median_s']:.2f} s",
         class_layer["max_s"] <= TARGETS["class_layer_s"]),
        ("neural persistence every epoch, the costliest model", f"<= {TARGETS['persistence_share']:.0%} of training",
         f"{costliest['persistence_share']:.1%} ({costliest['model']})",
         costliest["persistence_share"] <= TARGETS["persistence_share"]),
        ("peak memory of any job", f"<= {TARGETS['peak_rss_mib'] / 1024:.0f} GiB",
         f"{peak_rss:.0f} MiB ({worst_rule[0]}: {worst_rule[1]['worst']})" if not unrecorded or peak_rss == worst_rule[1]["max_rss_mib"]
         else f"{peak_rss:.0f} MiB (largest process, some rules unrecorded)", peak_rss <= TARGETS["peak_rss_mib"]),
    ]


def say_targets(rows: list[tuple], quick: bool) -> None:
    say()
    say("Targets")
    say(f"  {'target':<46} {'wanted':<22} {'measured':<58} result")
    for name, wanted, measured, met in rows:
        verdict = met if isinstance(met, str) else "not run" if met is None else ("met" if met else "NOT MET")
        say(f"  {name:<46} {wanted:<22} {measured:<58} {verdict}")
    if quick:
        say("  (--quick: a small study; the targets are for the default study, `make bench`)")
    say(f"  load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"(a busy machine slows every number above)")


def save(study: Study, full: Full, noop_s: float, figure: OneFigure, homology: HomologyAlone, change: Change,
         stages: dict, reference: dict | None, rows: list[tuple]) -> None:
    """Every number to benchmarks/out/last.json, the printout to last.txt."""
    study.record.update({
        "phases": {"full_s": full.seconds, "full_cpu_s": full.cpu_s, "full_run_s": full.run_s, "report_s": full.report_s,
                   "noop_s": noop_s, "one_figure_s": figure.seconds, "incremental_s": change.seconds,
                   "homology_alone_s": homology.seconds},
        "class_layer": homology.class_layer,
        "jobs": {"full": len(full.jobs), "one_figure": len(figure.jobs), "incremental_planned": len(change.planned),
                 "incremental_expected": len(change.expected), "incremental_run": len(change.ran)},
        "outputs": {"png": full.figures, "pages": full.pages, "graph_files": full.graph_files},
        "figure": str(figure.path.relative_to(study.work)), "figure_rule": figure.rule, "change": change.change,
        "rules": full.rules,
        "stages": stages,
        "training": full.training,
        "largest_process_mib": full.rss_any_mib, "reference": reference,
        "targets": [{"target": n, "wanted": w, "measured": m, "met": ok} for n, w, m, ok in rows],
        "load_average_end": os.getloadavg(),
    })
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "last.json").write_text(json.dumps(study.record, indent=2) + "\n")
    (OUT / "last.txt").write_text("\n".join(LINES) + "\n")
    progress(f"written {OUT / 'last.txt'} and last.json")


# --- the benchmark -----------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small study on the embedded digits (a few minutes)")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores, and the reference's workers (2)")
    parser.add_argument("--configfile", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--scratch", type=Path, help="scratch directory (default: a new one under the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (it is removed otherwise)")
    parser.add_argument("--no-reference", action="store_true", help="skip the straightforward reference")
    parser.add_argument("--cnn", action="store_true",
                        help="the CNN study (configs/cnn.yaml unless --configfile names another), its training steps' "
                             "variants beside the MLPs', no reference (whose own training loop is the MLPs')")
    args = parser.parse_args(argv)
    if args.cnn:
        args.no_reference = True
        if args.configfile == ROOT / "config.yaml":
            args.configfile = ROOT / "configs" / "cnn.yaml"
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    study = prepare(args)
    introduce(study)
    gemm, steps = machine_peaks(study)

    full = full_study(study)  # 1
    noop = noop_run(study)  # 2
    figure = one_figure(study)  # 3
    homology = homology_alone(study)  # 4
    change = one_parameter(study)  # 5
    reference = None if args.no_reference else reference_study(study)  # 6

    say_phases(study, full, noop, figure, homology, change, reference)
    stages = stage_seconds(study.results)
    if reference:
        reference["stages"] = stage_seconds(study.ref / "results", reference)
        say_stages(stages, reference["stages"])
    say_rules(full)
    say_training(study, gemm, full.training, reference)
    if steps:
        say_steps(gemm, steps)
    rows = targets(full, noop, figure, homology, change, reference, gemm)
    say_targets(rows, args.quick)

    save(study, full, noop[0], figure, homology, change, stages, reference, rows)
    if args.keep:
        progress(f"scratch kept: {study.scratch}")
    else:
        shutil.rmtree(study.scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
