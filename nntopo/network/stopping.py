"""Early stopping: when a criterion read from each epoch's record stops improving.

Free of torch, so the summaries that read training's histories import it without loading torch.
"""

from __future__ import annotations

# What each early-stopping criterion reads from an epoch's record, and which way is better.
CRITERIA = {"validation_loss": (lambda entry: entry["validation_loss"], -1),
            "neural_persistence": (lambda entry: entry["neural_persistence"]["mean_normalized"], +1)}


def stopping_epoch(history: list[dict], criterion: str, patience: int, min_delta: float) -> int | None:
    """The epoch at which early stopping by ``criterion`` ends training: the first at which ``patience``
    epochs in a row have not bettered the best value so far by more than ``min_delta``; None if none.

    Training calls it after every epoch; the summary calls it on a whole history to tell when each
    criterion would have stopped (the same epochs, as nothing before the stop depends on it).
    """
    value, sign = CRITERIA[criterion]
    best, waited = None, 0
    for entry in history:
        current = sign * value(entry)
        if best is None or current > best + min_delta:
            best, waited = current, 0
        else:
            waited += 1
            if waited >= patience:
                return entry["epoch"]
    return None
