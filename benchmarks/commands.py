"""Running Snakemake and the benchmark's programs, and reading what they ran: the Snakemake command
(the reference's runs use it too), a phase's run in the scratch directory, the jobs a run lists, the
benchmark's programs run as ``python -m benchmarks.<program>``, and the CPU time and memory of the
processes run so far."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def progress(text: str) -> None:
    """A line of progress to stderr (not part of the result)."""
    print(f"[bench {datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


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
