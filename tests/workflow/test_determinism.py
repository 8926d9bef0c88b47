"""Bit-identical results: another run, with --cores 1 instead of 2, gives the same activations, cluster
labels and rankings, compared by the sha256 of every HDF5 dataset and every table.

The full outputs, figures included, of a second --cores 2 run are compared in tests/workflow/test_crash.py
(its runs are killed and resumed). What cannot hold, and why, is in docs/reference/reliability.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from nntopo import config, paths, store
from nntopo.clustering.methods import make_method
from tests.workflow import reliability

pytestmark = pytest.mark.workflow


def data_targets(study: dict) -> list[str]:
    """Activations, weights, clusters, rankings and cluster tables of every model and method."""
    checked = config.validate(study)
    found = []
    for dataset in checked["datasets"]:
        for model in config.model_ids(checked):
            where = {"dataset": dataset, "model": model}
            found += [paths.fill(p, **where) for p in (paths.WEIGHTS, paths.ACTIVATIONS)]
            found += [paths.fill(p, **where, layer=layer, method=m) for layer in config.layers_of(checked, model)
                      for m in checked["clustering"]["methods"] for p in (paths.CLUSTERS, paths.CLUSTER_TABLE,
                                                                           paths.RANKING)]
    return found


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    workdir = reliability.prepare(tmp_path_factory.mktemp("serial"))
    reliability.run(workdir, *data_targets(reliability.STUDY), cores=1)
    return workdir


def test_activations_clusters_and_rankings_are_bit_identical(reference_run, serial_run):
    expected = reliability.fingerprint(reference_run)
    found = reliability.fingerprint(serial_run)
    assert found and set(found) <= set(expected), sorted(set(found) - set(expected))
    differ = sorted(name for name in found if found[name] != expected[name])
    print(f"{len(found) - len(differ)} of {len(found)} hashes identical (--cores 1 against --cores 2)")
    assert differ == []
    # What was compared: every layer's activations, every method's labels, the rankings.
    names = "\n".join(found)
    for method in reliability.STUDY["clustering"]["methods"]:
        assert f"clusters/{method}.h5::labels" in names and f"rankings/{method}.csv" in names
    assert "activations.h5::hidden_1" in names and "activations.h5::output" in names
    assert "clusters/umap.h5::embedding" in names and "clusters/mapper.h5::mapper/node_points" in names


@pytest.mark.parametrize("method", reliability.STUDY["clustering"]["methods"])
def test_clusters_do_not_depend_on_the_thread_count(reference_run, method):
    """The job's labels again in this process, with one thread and with two."""
    where = {"dataset": "digits", "model": "mlp16-l2-s0", "layer": "output", "method": method}
    acts = store.read_activations(reference_run / paths.fill(paths.ACTIVATIONS, **where))
    stored = store.read_clusters(reference_run / paths.fill(paths.CLUSTERS, **where))
    params = reliability.STUDY["clustering"][method]
    results = []
    for threads in (1, 2):
        with threadpool_limits(threads):
            results.append(make_method(method, int(acts.attrs["seed"]), params).fit(acts.output))
    for result in results:
        assert np.array_equal(result.labels, stored.labels)
        if stored.embedding is not None:
            assert np.asarray(result.embedding, dtype=np.float32).tobytes() == stored.embedding.tobytes()
