"""How a stage runs as a workflow job: one log file, bounded threads, clear failures, private caches.

Errors the user can act on (bad data, bad config, a diverged run, a foreign file) end the job
with their one-line message instead of a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

# Where the caches of numba, matplotlib and torch go: this folder (else the machine's temporary
# folder), then one folder per user and machine inside it. See cache_environment().
CACHE_DIR_ENV = "NNTOPO_CACHE_DIR"
CACHE_VARIABLES = {
    "NUMBA_CACHE_DIR": "numba",  # compiled UMAP/pynndescent functions (~25 s to compile cold)
    "MPLCONFIGDIR": "matplotlib",  # font list; also keeps a user's matplotlibrc out of the figures
    "TORCH_HOME": "torch",  # torch hub and checkpoints
    "CUDA_CACHE_PATH": "cuda",  # CUDA's JIT-compiled kernels
}


def cache_environment(environ: dict | None = None) -> dict[str, str]:
    """The variables that give every job of this user on this machine its caches, created here.

    Left alone, numba writes its cache next to the installed packages (the shared .venv) and
    matplotlib and torch under the home folder. When many jobs run at once on shared storage that
    mixes machines in one cache: numba's index names data files by counting, so two writers can
    point an entry at the other's code, compiled for another CPU; a job killed while holding
    matplotlib's lock file leaves it behind on the shared disk; a read-only installation makes numba
    fail. Here each (user, machine) gets its own folder, in the machine's temporary folder unless
    NNTOPO_CACHE_DIR names another place: jobs on one machine share what they compiled (the same CPU
    and the same signatures), their writes are atomic renames, and nothing is shared across machines.
    The folder must belong to the user and be closed to others (cached code is loaded and run):
    otherwise a fresh private one is made.
    """
    environ = os.environ if environ is None else environ
    base = Path(environ.get(CACHE_DIR_ENV) or tempfile.gettempdir()) / f"nntopo-caches-{os.getuid()}"
    root = base / socket.gethostname()
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.stat()
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise PermissionError(f"{base} is not private to this user")
        root.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        root = Path(tempfile.mkdtemp(prefix="nntopo-caches-"))
    paths = {name: root / folder for name, folder in CACHE_VARIABLES.items()}
    for path in paths.values():
        path.mkdir(mode=0o700, exist_ok=True)
    return {name: str(path) for name, path in paths.items()}


def user_errors() -> tuple[type[Exception], ...]:
    from nntopo.config import ConfigError
    from nntopo.data import DataError
    from nntopo.store import StoreError

    errors = [ConfigError, DataError, StoreError]
    if "nntopo.network.train" in sys.modules:  # only jobs that train can diverge; keep torch out of the rest
        errors.append(sys.modules["nntopo.network.train"].TrainingDiverged)
    return tuple(errors)


@contextmanager
def job(log_path: str | Path, threads: int = 1):
    """Log to ``log_path`` and stderr, cap numeric libraries at ``threads``, report user errors plainly."""
    from threadpoolctl import threadpool_limits

    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    log = logging.getLogger("nntopo")
    log.setLevel(logging.INFO)
    log.handlers[:] = [logging.FileHandler(log_path, mode="w"), logging.StreamHandler(sys.stderr)]
    for handler in log.handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    try:
        with threadpool_limits(threads):
            yield log
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            log.exception("unexpected failure")
            raise
        log.error("ERROR: %s", exc)
        sys.exit(1)
