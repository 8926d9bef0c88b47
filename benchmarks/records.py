"""What the runs leave behind, read into tables: the rules' `benchmark:` records (per rule, and per
stage named alike for the workflow and the reference) and each model's training throughput from its
metrics.json and layer sizes."""

from __future__ import annotations

from pathlib import Path

from benchmarks.plan import FIGURE_RULES


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
