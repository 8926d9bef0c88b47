"""The files a user gives (an external network's, a dataset's sources): their SHA-256, which the
provenance records and the jobs' params name, so that a changed file reruns what read it.

Light (no numpy): the config, which the Snakefile imports, names them, and nntopo.data records them.
"""

from __future__ import annotations

import functools
import hashlib
import os


def checksum(path: str | os.PathLike) -> str:
    """The file's SHA-256, read once per version of the file (every job's params name it)."""
    stat = os.stat(path)
    return _checksum(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=None)
def _checksum(path: str, mtime_ns: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
