"""The datasets' points: loaders by name (nntopo.data.loaders; the facts they go by are
nntopo.datasets') and the point clouds of known topology (nntopo.data.shapes).

Callers read ``from nntopo import data`` ... ``data.load(name, ...)``; the shapes are
``from nntopo.data import shapes``.
"""

from nntopo.data.loaders import IDX_FILES, Dataset, DataError, load, raw_dir, read_idx

__all__ = ["IDX_FILES", "Dataset", "DataError", "load", "raw_dir", "read_idx"]
