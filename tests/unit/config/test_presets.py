"""The preset studies in configs/: each loads as it is, and a long protocol's training jobs ask a
cluster for the time they need (nnconfig.training_minutes, read by rules/common.smk)."""

from pathlib import Path

import pytest

from nntopo import config

ROOT = Path(__file__).resolve().parents[3]
PRESETS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS, ids=[p.name for p in PRESETS])
def test_every_preset_is_a_valid_config(preset):
    config.load(preset)


def test_a_long_training_asks_for_its_time_and_a_short_one_for_ten_minutes():
    """Rieck et al.'s 40 epochs of batch 32 on 55,000 images: 68,760 steps of 3 layers at 3 ms and
    6 x 937,000 multiply-adds x 2.2 million samples at 10 GFLOP/s, 31 minutes; a D-III trial's 12,000
    full-batch steps of 10 layers and 6 x 20,250 multiply-adds x 37,800 points x 12,000; one epoch of
    a small MLP, the 10 minutes every job asks at least."""
    rieck = config.load(ROOT / "configs" / "rieck2019.yaml")
    steps, work = 40 * -(-55_000 // 32) * 3 * 0.003, 6 * (784 * 650 + 650 * 650 + 650 * 10) * 55_000 * 40 / 1e10
    assert config.training_minutes(rieck, "mnist", "mlp650x650-dropout-s3", 60_000) == -(-(steps + work) // 60) == 31
    spheres = config.load(ROOT / "configs" / "naitzat2020_spheres.yaml")
    steps, work = 12_000 * 10 * 0.003, 6 * (3 * 50 + 8 * 50 * 50 + 50 * 2) * 37_800 * 12_000 / 1e10
    assert config.training_minutes(spheres, "spheres", "mlp" + "x".join(["50"] * 9) + "-tanh-none-s7",
                                   60_000) == -(-(steps + work) // 60)
    short = config.validate({"widths": [8], "training": {"epochs": 1}})
    assert config.training_minutes(short, "mnist", "mlp8-none-s0", 60_000) == 10
