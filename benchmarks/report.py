"""The printout and the record: its head (the machine, Snakemake's start-up, the study), each phase's
wall time, the job-seconds per stage beside the reference's, the per-rule table, the training
throughput against the peak, and the targets, each met or not; the printout also goes to
benchmarks/out/last.txt and every number to last.json."""

from __future__ import annotations

import json
import os

from benchmarks.commands import ROOT, SLOW_STARTUP, describe, progress, snakemake_startup
from benchmarks.phases import CLASS_LAYER_POINTS, Change, Full, HomologyAlone, OneFigure
from benchmarks.plan import Study
from benchmarks.records import describe_sizes
from benchmarks.scale import LAYER, Scale

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

SCALE_RSS_MIB = 4096.0  # every job, at every size of the scale phase (issue 26)

ISSUE_PEAK_GFLOPS = 140.0  # the issue's "about 140 GFLOP/s is reachable" on the original machine

LINES: list[str] = []


def say(text: str = "") -> None:
    """Print a line of the result (and keep it for benchmarks/out/last.txt)."""
    print(text, flush=True)
    LINES.append(text)


def introduce(study: Study) -> None:
    """The printout's head: the machine, Snakemake's start-up, the study."""
    from nntopo import config as nnconfig

    args, cfg, models = study.args, study.cfg, study.models
    what = " (--scale: the scale phase alone)" if args.scale else " (--quick: digits, small settings)" if args.quick else ""
    say(f"nntopo benchmark {study.record['when']}{what}")
    say(f"  machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at start; "
        f"--cores {args.cores}; scratch {study.scratch}")
    startup = snakemake_startup(study.env)
    say(f"  Snakemake's own start-up (importing it, no workflow): {startup:.1f} s, paid by every phase below"
        + (SLOW_STARTUP if startup > 3 else ""))
    study.record["snakemake_startup_s"] = startup
    if args.scale:  # the scale phase alone: its own study (benchmarks/scale.py)
        return
    layers = sum(len(nnconfig.layers_of(cfg, m)) for m in models) * len(cfg["datasets"])
    say(f"  study: {', '.join(cfg['datasets'])} x {len(models)} models ({', '.join(models)}): {layers} analysed "
        f"layers x {len(cfg['clustering']['methods'])} methods ({', '.join(cfg['clustering']['methods'])}), "
        f"{cfg['training']['epochs']} epochs")


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


def say_scale(scale: Scale) -> None:
    """The scale phase's table: per stage, seconds and peak MiB at each size, and both growth exponents."""
    sizes = list(scale.ladder)
    say()
    say(f"Scale: one model (mlp100, 2 epochs) on MNIST's training split, {LAYER} clustered and analysed at "
        f"{', '.join(f'{n:,}' for n in sizes)} points (the rules' benchmark: records; exponent b of time or memory "
        "~ n^b, least squares on log-log)")
    head = "".join(f"{f'{n // 1000}k s' if n >= 1000 else f'{n} s':>9}" for n in sizes)
    mem = "".join(f"{f'{n // 1000}k MiB' if n >= 1000 else f'{n} MiB':>9}" for n in sizes)
    say(f"  {'stage':<27}{head} {'b time':>7} {mem} {'b mem':>6}")
    for stage in sorted(scale.seconds, key=lambda s: -max(scale.seconds[s].values())):
        times = "".join(f"{scale.seconds[stage][n]:>9.1f}" if n in scale.seconds[stage] else f"{'-':>9}" for n in sizes)
        rss = "".join(f"{scale.rss_mib[stage][n]:>9.0f}" if n in scale.rss_mib[stage] else f"{'-':>9}" for n in sizes)
        b_time, b_mem = scale.exponents(stage)
        say(f"  {stage:<27}{times} {b_time:>7.2f} {rss} {b_mem:>6.2f}")
    walls = ", ".join(f"{n:,}: {s:.0f} s" for n, s in scale.wall_s.items())
    say(f"  whole run from empty (every job, both layers): {walls}")
    top = sizes[-1]
    if top in scale.largest:
        job, mib = scale.largest[top]
        say(f"  largest job at {top:,} points: {job}, {mib:.0f} MiB peak RSS: "
            f"{'within' if mib <= SCALE_RSS_MIB else 'OVER'} the {SCALE_RSS_MIB / 1024:.0f} GiB every job must fit")


def save_scale(study: Study, scale: Scale) -> None:
    """The scale phase alone (--scale) to last.json and last.txt."""
    study.record["scale"] = scale.record()
    write(study)


def write(study: Study) -> None:
    """``study.record`` to benchmarks/out/last.json, the printout so far to last.txt."""
    OUT.mkdir(parents=True, exist_ok=True)
    study.record["load_average_end"] = os.getloadavg()
    (OUT / "last.json").write_text(json.dumps(study.record, indent=2) + "\n")
    (OUT / "last.txt").write_text("\n".join(LINES) + "\n")
    progress(f"written {OUT / 'last.txt'} and last.json")


def save(study: Study, full: Full, noop_s: float, figure: OneFigure, homology: HomologyAlone, change: Change,
         stages: dict, reference: dict | None, rows: list[tuple], scale: Scale | None = None) -> None:
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
    })
    if scale is not None:
        study.record["scale"] = scale.record()
    write(study)
