"""rankings/{method}.csv (written by nntopo.analysis.stage.rank_clusters): one row per cluster of the
clustered layer (`space`) and neuron of a ranked `layer` with a nonzero count."""

from __future__ import annotations

from nntopo.store.hdf5 import StoreError

RANKING_COLUMNS = ("dataset", "model", "space", "method", "layer", "cluster", "neuron", "count", "fraction", "rank")


def read_rankings(path):
    """A rankings table as a DataFrame; StoreError for a missing, unreadable or foreign file."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except FileNotFoundError:
        raise StoreError(f"{path}: file does not exist") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: not a readable CSV table ({str(exc).strip() or type(exc).__name__})") from None
    missing = [c for c in RANKING_COLUMNS if c not in table.columns]
    if missing:
        raise StoreError(f"{path}: not a rankings table, no column {', '.join(missing)}")
    for column in ("cluster", "neuron", "count", "rank"):
        if len(table) and table[column].dtype.kind not in "iu":  # (no rows: every point in no cluster)
            raise StoreError(f"{path}: column '{column}' holds {table[column].dtype}, expected integers")
    return table
