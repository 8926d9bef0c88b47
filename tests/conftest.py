import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """The real MNIST-family files: NNTOPO_DATA_DIR when set, else ../shared/data beside the repo."""
    candidate = Path(os.environ.get("NNTOPO_DATA_DIR") or ROOT.parent / "shared" / "data")
    return candidate if (candidate / "MNIST" / "raw").is_dir() else None


@pytest.fixture
def real_data_dir():
    found = shared_data_dir()
    if found is None:
        pytest.skip("no real MNIST files here (../shared/data or NNTOPO_DATA_DIR)")
    return found


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory):
    """One uninterrupted run of the small study of tests/workflow/reliability.py at --cores 2; the crash and
    determinism tests compare their runs with it."""
    from tests.workflow import reliability

    workdir = reliability.prepare(tmp_path_factory.mktemp("reference"))
    reliability.run(workdir)
    return workdir
