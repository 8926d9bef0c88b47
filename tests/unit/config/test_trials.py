"""The one-line refusals of ``trials`` (nntopo/config/trials.py) that the schema cannot express."""

import pytest

from nntopo import config
from nntopo.config import ConfigError
from nntopo.config.trials import check_trials
from tests.unit.config.test_own_data import small
from tests.unit.config.test_regression import regression_file


def checked(study):
    study = config.validate(study)
    check_trials(study)
    return study


def test_trials_are_checked_only_when_set():
    assert "trials" not in checked({"datasets": ["digits"]})
    trials = checked({"datasets": ["digits"], "trials": {"successes": 2, "limit": 5}})["trials"]
    assert trials == {"successes": 2, "limit": 5, "wave": 1}
    assert config.seeds(checked({"datasets": ["digits"], "trials": trials})) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(("study", "message"), [
    ({"datasets": ["digits"], "trials": {"successes": 6, "limit": 5}},
     "trials.successes (6) is more than trials.limit (5), the seeds tried; raise limit to at least 6"),
])
def test_more_successes_than_seeds_are_refused_in_one_line(study, message):
    with pytest.raises(ConfigError) as error:
        checked(study)
    assert str(error.value) == message


def test_trials_on_a_regression_are_refused_in_one_line(tmp_path):
    entry = {"name": "reg", "kind": "arrays", "path": regression_file(tmp_path), "task": "regression"}
    study = {**small([entry]), "trials": {"successes": 1, "limit": 3}}
    with pytest.raises(ConfigError) as error:
        checked(study)
    assert str(error.value) == ("trials keep the networks that classify every training point, and dataset reg is a "
                                "regression; drop trials or the dataset")
