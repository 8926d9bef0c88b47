"""Silence a cluster's top-ranked units and measure what it costs, against random units.

- ``table``: the ablation table (``ablate_clusters``, its columns, ``COLUMNS`` for a classifier and
  ``REGRESSION_COLUMNS`` for a regressor, ``columns_of(task)``, and ``summarize_ablation``), the same
  for every ablator;
- ``recorded``: a dense layer replayed from its recorded activations and the weights after it
  (``Ablator``), and ``recorded_ablator``, the ablator of a model's recorded files;
- ``channels``: a CNN layer's channels silenced in their full maps (``ChannelAblator``, torch);
- ``network``: an external network's units silenced in the network itself (``NetworkAblator``, torch);
- ``silencing``: what every ablator shares (``Remembered``: each point's score, correct for a
  classifier, squared error for a regressor, per silenced set).

The torch ablators are imported from their modules, so that this package loads without torch.
"""

from nntopo.analysis.ablation.recorded import (
    Ablator,
    check_close,
    logit_error,
    logits_without,
    output_logits,
    recorded_ablator,
)
from nntopo.analysis.ablation.table import (
    COLUMNS,
    REGRESSION_COLUMNS,
    ablate_clusters,
    columns_of,
    random_draws,
    summarize_ablation,
)

__all__ = [
    "COLUMNS",
    "REGRESSION_COLUMNS",
    "Ablator",
    "ablate_clusters",
    "check_close",
    "columns_of",
    "logit_error",
    "logits_without",
    "output_logits",
    "random_draws",
    "recorded_ablator",
    "summarize_ablation",
]
