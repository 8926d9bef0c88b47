"""How a stage runs as a workflow job: one log file, bounded threads, and clear failures.

Errors the user can act on (bad data, bad config, a diverged run, a foreign file) end the job
with their one-line message instead of a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from pathlib import Path


def user_errors() -> tuple[type[Exception], ...]:
    from nntopo.config import ConfigError
    from nntopo.data import DataError
    from nntopo.layout import LayoutError

    errors = [ConfigError, DataError, LayoutError]
    if "nntopo.train" in sys.modules:  # only jobs that train can diverge; keep torch out of the rest
        errors.append(sys.modules["nntopo.train"].TrainingDiverged)
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
