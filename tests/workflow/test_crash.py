"""Crashes lose nothing: SIGKILL the whole workflow at many moments; the plain command resumes.

One working directory goes through a chain of runs of the small study (tests/workflow/reliability.py): each
run is started with the plain command of docs/getting-started.md, and killed (SIGKILL to its whole process group:
Snakemake and every job) a set time after a job of a chosen rule starts, so the kills land in
training, clustering, ranking, figures, the Mapper page and the summaries. A moment whose rule has no job left to run
(the study is small: a few kills finish a stage) starts the command with ``--forcerun`` of that rule,
so that every moment lands where it is meant to. After every kill no file may look complete but be
cut short. Then the plain command runs to the end, and every output must be
bit-identical to an uninterrupted run's (conftest's ``reference_run``).

What makes this hold: every output is written under a temporary name and renamed (nntopo.store.atomic);
Snakemake marks the outputs of running jobs incomplete and the workflow profile's rerun-incomplete
redoes them; the lock a killed run leaves is cleared by the next run when no run is alive
(nntopo/workflow/recovery.py).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest

from tests.workflow import reliability

pytestmark = pytest.mark.workflow

# (rule whose job start triggers the kill, seconds after that start). The rule of each run's first
# start is kept when the named one does not start within PATIENCE seconds.
SCHEDULE = [
    ("train", 0.2),  # the job's Python is starting
    ("train", 1.5),
    ("train", 3.0),  # training, or writing its four files
    ("cluster", 0.5),
    ("model_figures", 0.5),
    ("cluster", 1.5),
    ("analyse_layer", 0.5),
    ("layer_figures", 0.5),  # also: a second run beside this live one is refused
    ("layer_figures", 1.5),
    ("analyse_layer", 1.0),
    ("image_figures", 0.5),
    ("layer_figures", 1.0),
]
PATIENCE = 20
JOB_START = re.compile(r"^(?:local)?rule (\w+):")


class Run:
    """The plain command started in its own process group; job starts are read from its output."""

    def __init__(self, workdir, *args: str):
        self.process = subprocess.Popen(
            reliability.snakemake_command(workdir, *args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=reliability.environment(), start_new_session=True,
        )
        self.output: list[str] = []
        self.starts: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            match = JOB_START.match(line)
            if match:
                self.starts.put(match.group(1))
        self.starts.put(None)

    def wait_for_start(self, rule: str, patience: float) -> str | None:
        """The rule of the job start that triggers the kill; None when the run ended first."""
        deadline = time.monotonic() + patience
        while True:
            try:
                started = self.starts.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                return "(no start within patience)"
            if started is None or started == rule:
                return started
            if time.monotonic() > deadline:
                return started

    def kill(self) -> bool:
        """SIGKILL the whole process group; whether Snakemake was still alive."""
        alive = self.process.poll() is None
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()
        self.reader.join(timeout=10)
        return alive

    def finish(self, timeout=600) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code


def stage(output: str) -> str:
    if re.search(r"/(model\.pt|weights\.h5|activations\.h5|metrics\.json)$", output):
        return "training"
    if re.search(r"/clusters/[^/]+\.h5$", output):
        return "clustering"
    if "/rankings/" in output or re.search(r"/clusters/[^/]+\.csv$", output):
        return "ranking"
    if output.endswith((".png", ".html")):
        return "plotting"
    return "other"


def pending_rules(workdir) -> set[str]:
    """The rules with a job left to run, from the dry run's job stats."""
    dry = reliability.run(workdir, "-n", "--quiet", "rules").stdout
    stats = dry.split("Job stats:")[1].split("\n\n")[0] if "Job stats:" in dry else ""
    return set(re.findall(r"^(\w+)\s+\d+$", stats, re.M)) - {"total"}


def refused_beside(workdir) -> subprocess.CompletedProcess:
    """A second run started while one is alive in ``workdir``."""
    return reliability.run(workdir, cores=1, check=False)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    workdir = reliability.prepare(tmp_path_factory.mktemp("crash"))
    moments, lying, beside = [], [], None
    for number, (rule, delay) in enumerate(SCHEDULE, 1):
        run = Run(workdir) if rule in pending_rules(workdir) else Run(workdir, "--forcerun", rule)
        started = run.wait_for_start(rule, PATIENCE)
        if started is None:  # the run finished before this moment: nothing left to kill
            run.finish()
            break
        if beside is None and rule == "layer_figures":
            beside = refused_beside(workdir)
            locks_kept = any((workdir / ".snakemake" / "locks").glob("*.lock"))
        time.sleep(delay)
        alive = run.kill()
        running = sorted(reliability.incomplete(workdir))
        moments.append({"moment": number, "after": f"{started} +{delay}s", "alive": alive,
                        "running": running, "stages": sorted({stage(o) for o in running})})
        lying += [f"kill {number}: {bad}" for bad in reliability.files_that_lie(workdir)]
    final = reliability.run(workdir)  # the plain command, to the end
    return {"workdir": workdir, "moments": moments, "lying": lying, "final": final,
            "beside": beside, "locks_kept": beside is not None and locks_kept}


def test_killed_at_ten_moments_or_more_across_the_stages(crashed):
    killed = [m for m in crashed["moments"] if m["alive"] and m["running"]]
    for m in crashed["moments"]:
        print(f"kill {m['moment']:2d} after {m['after']:<22} running: {', '.join(m['stages']) or '-'}")
    assert len(killed) >= 10, crashed["moments"]
    stages = {s for m in killed for s in m["stages"]}
    assert {"training", "clustering", "plotting"} <= stages, stages


def test_no_file_ever_looks_complete_but_is_not(crashed):
    assert crashed["lying"] == []


def test_the_plain_command_resumes_after_every_kill(crashed):
    final = crashed["final"]
    assert final.returncode == 0
    dry = reliability.run(crashed["workdir"], "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert reliability.incomplete(crashed["workdir"]) == set()


def test_outputs_are_identical_to_an_uninterrupted_run(crashed, reference_run):
    expected = reliability.fingerprint(reference_run)
    found = reliability.fingerprint(crashed["workdir"])
    assert sorted(found) == sorted(expected)
    differ = sorted(name for name in expected if found[name] != expected[name])
    print(f"{len(expected) - len(differ)} of {len(expected)} hashes identical")
    assert differ == []


def test_no_temporary_file_is_left(crashed):
    assert reliability.leftovers(crashed["workdir"]) == []


def test_a_second_run_beside_a_live_one_is_refused(crashed):
    beside = crashed["beside"]
    assert beside is not None, "no kill moment in a figure job"
    assert beside.returncode != 0 and "cannot be locked" in beside.stdout + beside.stderr
    assert crashed["locks_kept"], "the live run's locks were removed"
