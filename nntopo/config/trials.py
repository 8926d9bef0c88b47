"""The checks of ``trials`` (training with restarts until networks reach zero training error) that the
schema cannot express, run by ``nnconfig.validate`` after the training checks.

Imported by the Snakefile, so it stays light: no torch, no numpy.
"""

from __future__ import annotations

from nntopo import datasets
from nntopo.config.schema import ConfigError


def check_trials(config: dict) -> None:
    """Refuse, in one line, trials that could never keep a network: more successes than seeds, or a
    regression dataset (its networks have no training error to bring to zero)."""
    trials = config.get("trials")
    if not trials:
        return
    if trials["successes"] > trials["limit"]:
        raise ConfigError(f"trials.successes ({trials['successes']}) is more than trials.limit ({trials['limit']}), "
                          f"the seeds tried; raise limit to at least {trials['successes']}")
    for info in datasets.of(config).values():
        if info.task == "regression" or info.entry.get("task") == "regression":  # the entry says so before its file is read
            raise ConfigError(f"trials keep the networks that classify every training point, and dataset "
                              f"{info.name} is a regression; drop trials or the dataset")
