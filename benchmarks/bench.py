"""Benchmark the default study on a scratch copy of the results, against the straightforward reference.

    .venv/bin/python -m benchmarks.bench            # `make bench`: the default study (config.yaml)
    .venv/bin/python -m benchmarks.bench --quick    # a small study on the embedded digits, to try it out
    .venv/bin/python -m benchmarks.bench --cnn      # the CNN study (configs/cnn.yaml), no reference
    .venv/bin/python -m benchmarks.bench --scale    # the scale phase alone (10k to 60k points of MNIST)

(from the repository root, where `python -m` finds the benchmarks package.) This module is the
command line, and its `main` the table of contents; the parts are its siblings: plan.py (the study's
config and what each phase expects), phases.py (the timed phases), records.py (the rules' benchmark
records and the training table), report.py (the printout, the targets, last.json) and commands.py
(running Snakemake and the programs). The programs it times and measures, benchmarks/reference.py,
gemm.py and steps.py, run as `python -m benchmarks.<program>` in processes of their own.

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
   same run, so the speed-up is a ratio measured on the same machine at the same moment;
7. the scale phase (benchmarks/scale.py; --scale runs it alone, --no-scale leaves it out): one small
   MNIST model's first layer clustered by every method and analysed at 10,000, 20,000, 40,000 and
   60,000 points of MNIST's training split (--quick: 500 and 1,000; --ladder picks the sizes), each
   from empty through the workflow's jobs; per method and stage the time and peak memory at each size
   and their growth exponents.

It prints each phase's wall time, the job-seconds of each stage beside the reference's (where the
speed-up comes from), a per-rule table from the rules' `benchmark:` records, the
training throughput (samples/s, GFLOP/s from the layer sizes) of every model in both studies against
the machine's one-thread fp32 rate for that model's matrix products (the peak), a table of the
targets, each met or not, and the scale phase's table (per stage: seconds and peak MiB at each size,
the growth exponents).
The numbers also go to benchmarks/out/last.json and the printout to benchmarks/out/last.txt.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from benchmarks import phases, plan, records, report, scale
from benchmarks.commands import ROOT, progress


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
    parser.add_argument("--scale", action="store_true", help="the scale phase alone (MNIST's training split)")
    parser.add_argument("--no-scale", action="store_true", help="leave the scale phase out")
    parser.add_argument("--ladder", type=lambda text: tuple(int(n) for n in text.split(",")),
                        help="the scale phase's sizes, comma-separated (default 10000,20000,40000,60000; "
                             "--quick: 500,1000)")
    args = parser.parse_args(argv)
    if args.ladder is None:
        args.ladder = scale.QUICK_LADDER if args.quick else scale.LADDER
    if args.cnn:
        args.no_reference = True
        if args.configfile == ROOT / "config.yaml":
            args.configfile = ROOT / "configs" / "cnn.yaml"
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    study = plan.prepare(args)
    report.introduce(study)
    if args.scale:
        measured = scale.scale_phase(study, args.ladder)
        report.say_scale(measured)
        report.save_scale(study, measured)
        return finish(study)
    gemm, steps = phases.machine_peaks(study)

    full = phases.full_study(study)  # 1
    noop = phases.noop_run(study)  # 2
    figure = phases.one_figure(study)  # 3
    homology = phases.homology_alone(study)  # 4
    change = phases.one_parameter(study)  # 5
    reference = None if args.no_reference else phases.reference_study(study)  # 6
    measured = None if args.no_scale or args.cnn else scale.scale_phase(study, args.ladder)  # 7

    report.say_phases(study, full, noop, figure, homology, change, reference)
    stages = records.stage_seconds(study.results)
    if reference:
        reference["stages"] = records.stage_seconds(study.ref / "results", reference)
        report.say_stages(stages, reference["stages"])
    report.say_rules(full)
    report.say_training(study, gemm, full.training, reference)
    if steps:
        report.say_steps(gemm, steps)
    rows = report.targets(full, noop, figure, homology, change, reference, gemm)
    report.say_targets(rows, args.quick)
    if measured:
        report.say_scale(measured)

    report.save(study, full, noop[0], figure, homology, change, stages, reference, rows, measured)
    return finish(study)


def finish(study: plan.Study) -> int:
    """Remove the scratch directory (unless --keep)."""
    if study.args.keep:
        progress(f"scratch kept: {study.scratch}")
    else:
        shutil.rmtree(study.scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
