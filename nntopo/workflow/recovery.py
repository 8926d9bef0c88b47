"""Recover from a run that was killed (SIGKILL, power loss, OOM killer): clear the lock it left.

Snakemake locks its working directory with files in ``.snakemake/locks`` and deletes them when it
ends. A killed run cannot, so the next plain ``snakemake`` refuses to start ("Directory cannot be
locked ... run --unlock"). Those files do not say which process wrote them, so here every main
Snakemake process of this workflow also holds an ``flock`` on ``.snakemake/nntopo.alive`` for its
whole life; the kernel drops it when the process dies, however it dies. A process that can take
that flock knows that no other run of this workflow is alive in the directory, so lock files found
then are stale and are removed. When another run is alive, the locks are left alone and Snakemake
refuses as usual. (The outputs a killed job left are found by Snakemake's incomplete markers and
rerun: ``rerun-incomplete`` in ``profiles/default``.)
"""

from __future__ import annotations

import os
from pathlib import Path

_held = None  # the open file whose flock marks this process alive; kept open until the process ends


def clear_stale_locks(workdir: str | os.PathLike = ".") -> list[Path]:
    """Take the liveness flock; if no other run holds it, delete Snakemake's stale lock files.

    Returns the lock files removed (empty when there were none, or another run is alive, or the
    file system does not support flock).
    """
    global _held
    import fcntl

    if _held is not None:  # done once per process, before this process takes its own locks
        return []
    state = Path(workdir) / ".snakemake"
    state.mkdir(exist_ok=True)
    handle = open(state / "nntopo.alive", "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # another run is alive here (or no flock on this file system)
        handle.close()
        return []
    _held = handle
    stale = sorted((state / "locks").glob("*.lock"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
