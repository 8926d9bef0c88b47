"""Silence a cluster's top-ranked units and measure what it costs, against random units.

- ``table``: the ablation table (``ablate_clusters``, its ``COLUMNS`` and ``summarize_ablation``),
  the same for every ablator;
- ``recorded``: a dense layer replayed from its recorded activations and the weights after it
  (``Ablator``), and ``recorded_ablator``, the ablator of a model's recorded files;
- ``channels``: a CNN layer's channels silenced in their full maps (``ChannelAblator``, torch);
- ``network``: an external network's units silenced in the network itself (``NetworkAblator``, torch);
- ``silencing``: what every ablator shares (``Remembered``).

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
from nntopo.analysis.ablation.table import COLUMNS, ablate_clusters, random_draws, summarize_ablation

__all__ = [
    "Ablator", "COLUMNS", "ablate_clusters", "check_close", "logit_error", "logits_without", "output_logits",
    "random_draws", "recorded_ablator", "summarize_ablation",
]
