"""The scale phase: one small MNIST model's layer clustered by every method and analysed at each size of
a ladder of analysed points (MNIST's training split, ``analysis.points`` = n), through the workflow's
own jobs, so it measures what users run. Per method and stage: the time and peak memory at each size
(the rules' `benchmark:` records: s and max_rss per job), and the growth exponent fitted to them.

Each size runs in a scratch copy of its own (``<scratch>/scale/<n>``) from empty: the config's
settings, with one model (``SCALE``: widths [100], 2 epochs) and ``analysis: {split: train, points: n}``.
Every job of the run is recorded; the table shows the jobs of the scaled layer (hidden_1) and those of
the whole model or dataset (flow, probe, homology, figures, summary), not the output layer's (the same
stages again on 10 logits): those count only in the largest job's memory.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.commands import Workflow, progress
from benchmarks.plan import QUICK, Study, merge
from benchmarks.records import benchmark_records

LADDER = (10_000, 20_000, 40_000, 60_000)  # MNIST's training split has 60,000 images
QUICK_LADDER = (500, 1_000)
LAYER = "hidden_1"  # the scaled layer

# One small model on MNIST's training split; the analysed points come per size.
SCALE = {
    "datasets": ["mnist"],
    "widths": [100],
    "activations": ["relu"],
    "regularizations": ["none"],
    "seeds": [0],
    "training": {"epochs": 2},
    "analysis": {"split": "train", "layers": "all"},
}


def scale_config(raw: dict, n: int, quick: bool = False) -> dict:
    """The config of the run at ``n`` points: ``raw``'s settings (the study's config) with ``SCALE``
    and ``analysis.points`` = n over them; ``quick`` adds --quick's small clustering settings and
    every point of a class in the homology (a quick ladder's classes are smaller than its default)."""
    config = merge(raw, SCALE)
    if quick:
        config = merge(config, {key: QUICK[key] for key in ("clustering", "homology", "device")})
    config.pop("external", None)  # one grid model alone
    return merge(config, {"analysis": {"points": int(n)}})


def growth_exponent(sizes, values) -> float:
    """The least-squares slope b of log(value) against log(size), value ~ a * size^b: 1 for linear
    growth, 2 for quadratic, 0 for none. NaN unless there are two sizes or more with positive values."""
    import numpy as np

    pairs = [(s, v) for s, v in zip(sizes, values) if s > 0 and v is not None and v > 0 and math.isfinite(v)]
    if len({s for s, _ in pairs}) < 2:
        return float("nan")
    x, y = np.log([s for s, _ in pairs]), np.log([v for _, v in pairs])
    return float(np.polyfit(x, y, 1)[0])


def stage_name(job: Path) -> str | None:
    """The table's name for a job's `benchmark:` record (its path under results/benchmarks, without
    .tsv): the rule, with the method for a clustering (``cluster tsne``); None for a job of another
    layer than ``LAYER`` (a per-layer rule's path names the layer after the model)."""
    rule, *where = job.parts
    layered = len(where) >= 3 and (where[2] == "output" or where[2].startswith("hidden_"))
    if layered and where[2] != LAYER:
        return None
    if rule == "cluster":
        return f"cluster {where[-1]}"
    return rule


@dataclass
class Scale:
    """The scale phase: per size, its wall time; per stage, its seconds and peak MiB at each size."""

    ladder: tuple
    wall_s: dict = field(default_factory=dict)  # n -> the run's wall seconds
    seconds: dict = field(default_factory=dict)  # stage -> {n: s}
    rss_mib: dict = field(default_factory=dict)  # stage -> {n: MiB}
    largest: dict = field(default_factory=dict)  # n -> (job, MiB): the largest job of the run, any layer

    def exponents(self, stage: str) -> tuple[float, float]:
        """(time, memory) growth exponents of ``stage`` over the sizes it ran at."""
        sizes = sorted(self.seconds[stage])
        return (growth_exponent(sizes, [self.seconds[stage][n] for n in sizes]),
                growth_exponent(sizes, [self.rss_mib[stage].get(n) for n in sizes]))

    def record(self) -> dict:
        """What last.json keeps."""
        return {
            "ladder": list(self.ladder),
            "wall_s": {str(n): s for n, s in self.wall_s.items()},
            "stages": {stage: {"seconds": {str(n): s for n, s in self.seconds[stage].items()},
                               "max_rss_mib": {str(n): m for n, m in self.rss_mib[stage].items()},
                               "time_exponent": self.exponents(stage)[0],
                               "memory_exponent": self.exponents(stage)[1]}
                       for stage in self.seconds},
            "largest_job": {str(n): {"job": job, "max_rss_mib": mib} for n, (job, mib) in self.largest.items()},
        }

    def read(self, n: int, results: Path) -> None:
        """The `benchmark:` records of the run at ``n`` points."""
        largest = ("", 0.0)
        for job, seconds, rss in benchmark_records(results):
            if not math.isnan(rss) and rss > largest[1]:
                largest = (str(job), rss)
            stage = stage_name(job)
            if stage is None:
                continue
            # (one job per stage at most: one dataset, one model, one layer)
            self.seconds.setdefault(stage, {})[n] = seconds
            self.rss_mib.setdefault(stage, {})[n] = rss
        self.largest[n] = largest


def scale_phase(study: Study, ladder=LADDER) -> Scale:
    """Run the workflow from empty at each size of ``ladder``, each in a scratch copy of its own, and
    read what its jobs took."""
    import yaml

    scale = Scale(tuple(ladder))
    for i, n in enumerate(ladder, start=1):
        work = study.scratch / "scale" / str(n)
        work.mkdir(parents=True, exist_ok=True)
        configfile = study.scratch / "scale" / f"config-{n}.yaml"
        configfile.write_text(yaml.safe_dump(scale_config(study.raw, n, study.args.quick), sort_keys=False))
        progress(f"scale {i}/{len(ladder)}: {n:,} analysed points of MNIST's training split, from empty "
                 f"(snakemake --cores {study.args.cores})")
        start = time.perf_counter()
        Workflow(work, configfile, study.args.cores, study.env, study.logs).run(f"scale_{n}")
        scale.wall_s[n] = time.perf_counter() - start
        scale.read(n, work / "results")
    return scale
