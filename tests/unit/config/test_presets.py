"""The preset studies in configs/: each loads as it is, and a long protocol's training jobs ask a
cluster for the time they need (rules/common.smk, training_minutes)."""

from pathlib import Path

import pytest
import yaml

from nntopo import config
from tests.unit.config.test_own_data import dry_run, jobs

ROOT = Path(__file__).resolve().parents[3]
PRESETS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_every_preset_is_a_valid_config(preset):
    config.load(preset)


def test_a_long_training_asks_for_its_time_and_a_short_one_for_ten_minutes(tmp_path):
    """Rieck et al.'s 40 epochs of batch 32 on 55,000 images: 68,760 steps of 3 layers at 3 ms and
    6 x 937,000 multiply-adds x 2.2 million samples at 10 GFLOP/s, 31 minutes; one epoch of an 8-unit
    MLP, the 10 minutes every job asks at least."""
    protocol = yaml.safe_load((ROOT / "configs" / "rieck2019.yaml").read_text())
    asks = {}
    for name, cfg in (("rieck", {**protocol, "regularizations": ["none"], "seeds": [0]}),
                      ("short", {"datasets": ["mnist"], "widths": [8], "regularizations": ["none"],
                                 "clustering": {"methods": []}, "training": {"epochs": 1}})):
        (tmp_path / name).mkdir()
        run = dry_run(tmp_path / name, cfg)
        assert run.returncode == 0, run.stderr[-3000:]
        asks[name] = [job["resources"] for job in jobs(run.stdout + run.stderr) if job["rule"] == "train"]
    steps, work = 40 * -(-55_000 // 32) * 3 * 0.003, 6 * (784 * 650 + 650 * 650 + 650 * 10) * 55_000 * 40 / 1e10
    assert asks["rieck"] and all(f"runtime={-(-(steps + work) // 60):.0f}," in ask for ask in asks["rieck"])
    assert asks["short"] and all("runtime=10," in ask for ask in asks["short"])
