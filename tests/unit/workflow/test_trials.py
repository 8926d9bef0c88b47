"""The trials' selection (nntopo/workflow/trials.py), worked by hand: which seeds run next, which are kept."""

import itertools

import pytest

from nntopo.workflow import trials

# Seeds 0..9 of a hand-made group: which reached zero training error.
OUTCOMES = {0: False, 1: True, 2: False, 3: True, 4: True, 5: False, 6: True, 7: False, 8: True, 9: True}


def run_to_the_end(outcomes, successes, limit, wave):
    """Play the workflow: ask for a wave, learn its outcomes, ask again; the waves asked, and the last plan."""
    known, waves = {}, []
    while not (now := trials.plan(known, successes, limit, wave)).done:
        waves.append(now.run)
        known.update({seed: outcomes[seed] for seed in now.run})
    return waves, now


def test_one_at_a_time_tries_seeds_in_order_until_enough_succeed():
    waves, last = run_to_the_end(OUTCOMES, successes=3, limit=10, wave=1)
    # Successes are 1, 3, 4: a wave is the successes still missing, so 0-2, then 3-4 (2 missing).
    assert waves == [(0, 1, 2), (3, 4)]
    assert last.kept == (1, 3, 4) and last.tried == (0, 1, 2, 3, 4)


def test_a_wide_wave_tries_more_but_keeps_the_same_seeds():
    waves, last = run_to_the_end(OUTCOMES, successes=3, limit=10, wave=4)
    assert waves == [(0, 1, 2, 3), (4, 5, 6, 7)]  # 1, 3 kept; then 1 missing, a wave of 4
    assert last.kept == (1, 3, 4)  # 6 succeeded too, tried but not kept
    assert last.tried == tuple(range(8))


def test_the_limit_ends_a_group_short_of_its_successes():
    waves, last = run_to_the_end(OUTCOMES, successes=3, limit=3, wave=2)
    assert waves == [(0, 1, 2)]  # max(3 missing, 2), and never past the limit
    assert last.kept == (1,) and last.tried == (0, 1, 2)
    failing = dict.fromkeys(range(5), False)
    assert run_to_the_end(failing, successes=2, limit=5, wave=1)[1].kept == ()


def test_the_kept_seeds_never_depend_on_the_wave():
    for successes, limit, wave in itertools.product([1, 2, 3, 6], [1, 4, 7, 10], [1, 2, 3, 5, 10]):
        expected = tuple([seed for seed in range(limit) if OUTCOMES[seed]][:successes])
        waves, last = run_to_the_end(OUTCOMES, successes, limit, wave)
        assert last.kept == expected, (successes, limit, wave)
        assert all(seed < limit for run in waves for seed in run)


def test_outcomes_known_out_of_order_ask_only_for_the_rest_of_the_wave():
    # Seed 2 of the wave 0-3 ended first: the wave stays 0-3 and asks for 0, 1, 3.
    assert trials.plan({2: True}, successes=3, limit=10, wave=4).run == (0, 1, 3)
    # A seed past the wave (run before with a wider wave) is not read before its turn; the first wave
    # is 0-2 (3 missing), and nothing is kept before it ends.
    now = trials.plan({0: True, 1: True, 5: True}, successes=3, limit=10, wave=1)
    assert now.run == (2,) and now.kept == ()
    assert trials.plan({0: True, 1: True, 2: False, 5: True}, successes=3, limit=10, wave=1).run == (3,)


def test_the_table_marks_the_kept_seeds_and_the_log_lists_every_failure():
    def record(seed, ok, stopped_by, epochs):
        return {"model": f"mlp10x25-tanh-none-s{seed}", "zero_training_error": ok, "train_error": 0.0 if ok else 0.25,
                "epochs_trained": epochs, "stopped_by": stopped_by, "train_seconds": 1.5}

    records = [record(1, True, "zero_error", 40), record(0, False, "no_progress", 20), record(2, True, "zero_error", 30)]
    frame, lines = trials.table(records, successes=1, limit=5, wave=3)
    assert frame["seed"].tolist() == [0, 1, 2] and frame["kept"].tolist() == [False, True, False]
    assert set(frame["group"]) == {"mlp10x25-tanh-none"} and set(frame["activation"]) == {"tanh"}
    assert frame["architecture"].tolist() == ["mlp10x25"] * 3 and frame["regularization"].tolist() == ["none"] * 3
    assert lines == [("mlp10x25-tanh-none: 1 kept of 3 tried; succeeded beyond those asked, not kept: seed 2; "
                     "failed: seed 0 (no progress at epoch 20, training error 0.25)")]
    short, lines = trials.table([record(0, False, None, 50)], successes=2, limit=1)
    assert not short["kept"].any() and short[["group_kept", "group_asked"]].values.tolist() == [[0, 2]]
    assert frame["group_kept"].tolist() == [1] * 3
    assert lines == [("mlp10x25-tanh-none: 0 kept of 1 tried, fewer than the 2 asked (trials.limit reached); "
                     "failed: seed 0 (epochs ran out at epoch 50, training error 0.25)")]


@pytest.mark.parametrize("model, group", [("mlp10x25-tanh-none-s17", "mlp10x25-tanh-none"), ("mlp25-l2-s0", "mlp25-l2")])
def test_a_group_is_the_model_id_without_its_seed(model, group):
    assert trials.group_of(model) == group
