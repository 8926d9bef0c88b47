"""Training with restarts (config ``trials``): which seeds of a group to train next, and which to keep.

A group is an architecture, activation and regularization of the grid (a model id without its seed).
Its seeds are tried in order 0, 1, 2, ...; a trial succeeds when the trained network misclassifies no
training point (metrics.json's ``zero_training_error``). The kept networks are the first ``successes``
seeds, in seed order, that succeeded; trying stops when that many are kept or ``limit`` seeds were
tried. This is Naitzat et al.'s protocol (topnn_framework's computer.py:217-251: trials in a row until
GOOD_RESULTS_LIMIT successes; estimators/nn_simple.py:396-406: a success is training accuracy 1.0).

Several trials may run at once: a wave starts max(successes still missing, ``wave``) seeds (never past
``limit``). The kept seeds never depend on the wave: a wave's extra successes are tried but not kept,
so the result is that of trying one seed at a time. Plain values in, plain values out: the workflow
(rules/common.smk) reads the outcomes and asks for the next wave.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from nntopo.models import ModelId

if TYPE_CHECKING:  # pandas only where a table is made: the Snakefile imports this module
    import pandas as pd

# What a trial's record keeps of its metrics.json (the training job's outcome), in trials.csv's order.
OUTCOME_KEYS = ("zero_training_error", "train_error", "epochs_trained", "stopped_by", "train_seconds")
# Why a trial's training ended (metrics.json's stopped_by), as the log says it.
STOPPED_BY = {"zero_error": "zero training error", "no_progress": "no progress", "early_stopping": "early stopping",
              None: "epochs ran out"}


@dataclasses.dataclass(frozen=True)
class Plan:
    """Where a group's trials stand: ``run``, the seeds whose outcome is needed next (the current wave's
    unknown ones; empty when the group is done), the seeds ``tried`` whose outcomes were read, in order,
    and the seeds ``kept`` so far (final once ``run`` is empty)."""

    run: tuple[int, ...]
    tried: tuple[int, ...]
    kept: tuple[int, ...]

    @property
    def done(self) -> bool:
        return not self.run


def plan(outcomes: Mapping[int, bool], successes: int, limit: int, wave: int = 1) -> Plan:
    """The group's trials from the outcomes known so far (seed -> succeeded). Outcomes of seeds beyond
    the current wave are not read: the waves are cut from the seeds in order, each from the kept count
    of the waves before it, so the same outcomes always give the same waves."""
    start, tried, kept = 0, [], []
    while len(kept) < successes and start < limit:
        missing = successes - len(kept)
        seeds = range(start, min(limit, start + max(missing, wave)))
        unknown = tuple(seed for seed in seeds if seed not in outcomes)
        if unknown:
            return Plan(run=unknown, tried=tuple(tried), kept=tuple(kept))
        tried += seeds
        kept += [seed for seed in seeds if outcomes[seed]][:missing]
        start = seeds.stop
    return Plan(run=(), tried=tuple(tried), kept=tuple(kept))


def outcome(metrics: Mapping, path) -> dict:
    """A trial's record: its model and what its metrics.json (at ``path``) says of its training."""
    missing = [key for key in OUTCOME_KEYS if key not in metrics]
    if missing:
        from nntopo.config import ConfigError

        raise ConfigError(f"{path} has no {', '.join(missing)}: trials need a classifier trained by this version "
                          f"(a regression has no training error to bring to zero); delete the file to train it again")
    return {"model": metrics["model"], **{key: metrics[key] for key in OUTCOME_KEYS}}


def failure(outcome: Mapping) -> str:
    """Why a trial failed, as the log says it: "no progress at epoch 2000" (its training error)."""
    reason = STOPPED_BY.get(outcome["stopped_by"], str(outcome["stopped_by"]))
    return f"{reason} at epoch {outcome['epochs_trained']}, training error {outcome['train_error']:.4g}"


def describe(group: str, trials: Mapping[int, Mapping], kept, successes: int) -> str:
    """One log line of a group: "mlp10x25-relu-none: 3 kept of 7 tried; failed: seeds 1, 4 (no progress
    at epoch 2000, training error 0.012; ...)", and a shortfall said as one."""
    failed = [seed for seed, outcome in trials.items() if not outcome["zero_training_error"]]
    line = f"{group}: {len(kept)} kept of {len(trials)} tried"
    if len(kept) < successes:
        line += f", fewer than the {successes} asked (trials.limit reached)"
    extra = [seed for seed, outcome in trials.items() if outcome["zero_training_error"] and seed not in kept]
    if extra:  # a last wave's successes beyond those asked
        line += f"; succeeded beyond those asked, not kept: seed{'s' if len(extra) > 1 else ''} {', '.join(map(str, extra))}"
    if failed:
        reasons = "; ".join(failure(trials[seed]) for seed in failed)
        line += f"; failed: seed{'s' if len(failed) > 1 else ''} {', '.join(map(str, failed))} ({reasons})"
    return line


def group_of(model) -> str:
    """A model's group: its id without the seed (mlp10x25-tanh-none)."""
    return ModelId.parse(str(model)).architecture


def table(records, successes: int, limit: int, wave: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """trials.csv and the log's lines, from the records of every seed tried (each ``model`` and its
    OUTCOME_KEYS): one row per trial, groups in the order met, seeds in order, each marked kept or not,
    with how many its group kept of the ``successes`` asked."""
    import pandas as pd
    groups: dict[str, dict[int, tuple[ModelId, dict]]] = {}
    for record in records:
        model = ModelId.parse(record["model"])
        groups.setdefault(model.architecture, {})[model.seed] = model, record
    rows, lines = [], []
    for group, parsed in groups.items():
        trials = {seed: record for seed, (_, record) in sorted(parsed.items())}
        kept = plan({seed: r["zero_training_error"] for seed, r in trials.items()}, successes, limit, wave).kept
        lines.append(describe(group, trials, kept, successes))
        for seed, record in trials.items():
            model = parsed[seed][0]
            rows.append({"group": group, "architecture": model.architecture_name, "activation": model.activation,
                         "regularization": model.regularization, "seed": seed, "model": record["model"],
                         **{key: record[key] for key in OUTCOME_KEYS}, "kept": seed in kept,
                         "group_kept": len(kept), "group_asked": successes})  # a shortfall, said on every row
    columns = ["group", "architecture", "activation", "regularization", "seed", "model", *OUTCOME_KEYS, "kept",
               "group_kept", "group_asked"]
    return pd.DataFrame(rows, columns=columns), lines
