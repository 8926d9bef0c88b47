"""The timed phases, in the order bench.main runs them: this machine's peaks (benchmarks/gemm.py and
steps.py, each in a process of its own), then 1. the full study from empty, 2. the no-op dry run,
3. one figure rebuilt, 4. the homology alone and one class in one layer, 5. one parameter changed,
6. the reference (benchmarks/reference.py). Each returns what it measured; report.py prints it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.commands import ROOT, children_cpu_s, children_max_rss_mib, jobs_in, program, progress
from benchmarks.plan import HOMOLOGY_RULES, Study, changed_parameter, delete_homology, expected_after_change, pick_figure
from benchmarks.records import architecture, describe_sizes, rule_table, training_table

CLASS_LAYER_POINTS = 1000  # the one class in one layer: up to this many points of the largest class


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
