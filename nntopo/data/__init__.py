"""The datasets' points: loaders by name (nntopo.data.loaders; the facts they go by are
nntopo.datasets'), the point clouds of known topology (nntopo.data.shapes), a user's dataset read from
its source (nntopo.data.sources), scaled (nntopo.data.scaling) and prepared into data.h5
(nntopo.data.prepare), and the points a study analyses (nntopo.data.points).

Callers read ``from nntopo import data`` ... ``data.load(name, ...)``; the modules are
``from nntopo.data import shapes``. The package itself stays light (no numpy until a loader is asked
for): the config imports nntopo.data.sources to check a user's dataset when the Snakefile loads.
"""

_LOADERS = ("IDX_FILES", "Dataset", "load", "raw_dir", "read_idx")


class DataError(ValueError):
    """Data that is missing or cannot be trusted; the message names the file and the fix."""


def __getattr__(name: str):
    if name in _LOADERS:  # imported on first use: numpy comes with them
        from nntopo.data import loaders

        return getattr(loaders, name)
    raise AttributeError(f"module 'nntopo.data' has no attribute {name!r}")


__all__ = ["IDX_FILES", "DataError", "Dataset", "load", "raw_dir", "read_idx"]
