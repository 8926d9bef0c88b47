"""Helpers of the reliability tests (crash recovery, determinism): one small study, how to run it, and
how to fingerprint and check its outputs.

The study is one model on the embedded digits with all four clustering methods, so that a run is
short but goes through every kind of job: training, clustering, ranking, figures, the Mapper page and
the summaries.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from tests.conftest import ROOT

STUDY = {
    "datasets": ["digits"],
    "widths": [16],
    "regularizations": ["l2"],
    "training": {"epochs": 5, "batch_size": 64, "lr": 0.005},
    "device": "cpu",
    "clustering": {
        "methods": ["kmeans", "tsne", "umap", "mapper"],
        "kmeans": {"n_clusters": 10},
        "tsne": {"perplexity": 20, "max_iter": 250, "clusterer": {"name": "kmeans", "n_clusters": 10}},
        "umap": {"n_neighbors": 10, "clusterer": {"name": "hdbscan", "min_cluster_size": 15}},
        "mapper": {"n_cubes": 5, "min_samples": 5},
    },
}


def snakemake_command(workdir: Path, *args: str, cores: int = 2) -> list[str]:
    """The plain command of docs/getting-started.md (the workflow profile applies by itself), on ``workdir``."""
    return [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(workdir / "config.yaml"), "--cores", str(cores), *args]


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NNTOPO_DATA_DIR"}


def prepare(workdir: Path, config: dict = STUDY) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def run(workdir: Path, *args: str, cores: int = 2, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(snakemake_command(workdir, *args, cores=cores), capture_output=True, text=True,
                          env=environment(), timeout=900)
    if check:
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done


# --- fingerprints -------------------------------------------------------------------------------

def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def is_timing(name: str) -> bool:
    """Keys that record how long something took, which no two runs share."""
    return "second" in name  # train_seconds, samples_per_second, gflops_per_second, seconds


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if not is_timing(k)}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def h5_fingerprint(path: Path) -> dict[str, str]:
    """sha256 of every dataset (dtype, shape and bytes) and of the attributes but timings."""
    import h5py

    found = {}
    with h5py.File(path, "r") as h5:
        def visit(name, item):
            if isinstance(item, h5py.Dataset):
                data = np.ascontiguousarray(item[()])
                found[name] = _sha(str(data.dtype).encode(), str(data.shape).encode(), data.tobytes())

        h5.visititems(visit)
        attrs = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in h5.attrs.items()
                 if not is_timing(k)}
        found["@attrs"] = _sha(json.dumps(attrs, sort_keys=True, default=str).encode())
    return found


def outputs(workdir: Path) -> list[Path]:
    """The result files (not logs, benchmark records or hidden temporary files), sorted."""
    results = workdir / "results"
    return sorted(
        p for p in results.rglob("*")
        if p.is_file() and not p.name.startswith(".")
        and p.relative_to(results).parts[0] not in ("logs", "benchmarks")
    )


def fingerprint(workdir: Path) -> dict[str, str]:
    """{file or file::dataset: sha256} of every result; timings (metrics.json's, the summary's
    train_seconds, the clusters' ``seconds`` attribute) left out."""
    found = {}
    for path in outputs(workdir):
        name = str(path.relative_to(workdir))
        if path.suffix == ".h5":
            found.update({f"{name}::{key}": digest for key, digest in h5_fingerprint(path).items()})
        elif path.suffix == ".json":
            found[name] = _sha(json.dumps(without_timings(json.loads(path.read_text())), sort_keys=True).encode())
        elif path.suffix == ".csv" and is_timing(path.read_text().partition("\n")[0]):
            import pandas as pd

            table = pd.read_csv(path)
            found[name] = _sha(table.drop(columns=[c for c in table.columns if is_timing(c)]).to_csv().encode())
        else:
            found[name] = _sha(path.read_bytes())
    return found


# --- is every file that is there whole? ---------------------------------------------------------

def incomplete(workdir: Path) -> set[str]:
    """The outputs Snakemake has marked incomplete (their jobs were running when it stopped)."""
    marks = workdir / ".snakemake" / "incomplete"
    found = set()
    for mark in marks.glob("*") if marks.is_dir() else ():
        try:
            found.add(base64.urlsafe_b64decode(mark.name + "=" * (-len(mark.name) % 4)).decode())
        except ValueError:
            pass
    return found


def check_whole(path: Path) -> None:
    """Read ``path`` completely with the reader its kind calls for; raise if it is cut short or corrupt."""
    from nntopo import store

    suffix = path.suffix
    if suffix == ".h5":
        if path.name == "weights.h5":
            store.read_weights(path)
        elif path.name == "activations.h5":
            store.read_activations(path)
        elif path.parent.name == "clusters":
            store.read_clusters(path)
        h5_fingerprint(path)  # every dataset readable
    elif suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            image.load()
        assert path.read_bytes().endswith(b"IEND\xaeB`\x82"), f"{path}: PNG without its end chunk"
    elif suffix == ".csv":
        import pandas as pd

        assert len(pd.read_csv(path).columns) > 0
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".html":
        assert path.read_text().rstrip().endswith("</html>"), f"{path}: page cut short"
    elif suffix == ".graphml":
        import networkx as nx

        nx.read_graphml(path)  # a file cut short is not well-formed XML
    elif suffix == ".pt":
        import torch

        torch.load(path)
    elif suffix == ".tsv":
        assert len(path.read_text().splitlines()) >= 2, f"{path}: benchmark record without its row"
    else:
        raise AssertionError(f"{path}: no check for this kind of file")


def files_that_lie(workdir: Path) -> list[str]:
    """Files that look complete but are not: our outputs must all be whole (they are written under a
    temporary name and renamed); Snakemake's benchmark records must be whole unless marked incomplete."""
    marked = incomplete(workdir)
    bad = []
    results = workdir / "results"
    candidates = outputs(workdir) + sorted((results / "benchmarks").rglob("*.tsv"))
    for path in candidates:
        if path.suffix == ".tsv" and str(path.relative_to(workdir)) in marked:
            continue
        try:
            check_whole(path)
        except Exception as error:  # noqa: BLE001 - any failure to read means the file lies
            bad.append(f"{path.relative_to(workdir)}: {type(error).__name__}: {error}")
    return bad


def leftovers(workdir: Path) -> list[str]:
    """Temporary files of interrupted writers."""
    return sorted(str(p.relative_to(workdir)) for p in (workdir / "results").rglob(".*.tmp*"))
