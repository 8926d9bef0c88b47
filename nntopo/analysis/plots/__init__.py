"""Figures of the analysis, arrays and tables in, a matplotlib Figure out (``nntopo.plotting``'s house style):

- ``clusters``: one row per cluster of a layer: its neuron ranking, its top-k neurons' weights, sample
  inputs seen through them, what silencing them costs;
- ``channels``: a CNN's first-layer filters, its clusters' top channels and what they respond to;
- ``flow``: how clusterings relate: methods on a layer, a method's clusters from layer to layer, depth;
- ``grid``: the models of a study compared.

Call sites read ``from nntopo.analysis import plots`` ... ``plots.ranking_heatmap(...)``.
"""

from nntopo.analysis.plots.channels import channel_responses, filters, kernel_images
from nntopo.analysis.plots.clusters import (
    ablation_effects,
    combined_weights,
    neuron_weight_images,
    ranking_heatmap,
    through,
    transformed_inputs,
    weighted_sum,
)
from nntopo.analysis.plots.flow import agreement_heatmap, depth_profile, layer_sankey
from nntopo.analysis.plots.grid import grid_summary

__all__ = [
    "ablation_effects", "agreement_heatmap", "channel_responses", "combined_weights", "depth_profile", "filters",
    "grid_summary", "kernel_images", "layer_sankey", "neuron_weight_images", "ranking_heatmap", "through",
    "transformed_inputs", "weighted_sum",
]
