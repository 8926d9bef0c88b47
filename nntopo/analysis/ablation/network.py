"""Silence units of a network the user brings (config `external`): zeroed in the output of the module
that is their layer, through its forward hook, and the whole network run again on the analysed points'
inputs. The counterpart of ``recorded.Ablator`` for a network nntopo cannot replay from recorded layers
(any architecture): one forward pass of the analysed points per silenced set, in float32 as it was
recorded.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from nntopo.analysis.ablation.silencing import Remembered
from nntopo.network.external import model_inputs, named_modules, run


class NetworkAblator(Remembered):
    """Ablated predictions' correctness for any unit set of recorded layer ``layer_index`` (0: hidden_1)
    of an external network (``settings``: its config slice), remembered per set. ``shape`` is the input
    shape the network was recorded with (the activations' ``network_input_shape``; its input_shape or
    the dataset's when the entry gives none)."""

    def __init__(self, network: nn.Module, settings: dict, x: np.ndarray, layer_index: int, y_true, shape=None):
        self.network, self.settings, self.index = network, settings, layer_index
        self.modules = named_modules(network, settings["layers"], settings)
        self.x = model_inputs(x, settings, None if shape is None else [int(s) for s in shape])
        self.y_true = np.asarray(y_true, dtype=np.int64)
        hidden, self.logits, _ = run(network, self.modules, self.x, int(self.y_true.max()) + 1, settings)
        self.hidden = hidden[layer_index]  # as recorded: the caller checks it against the files
        self.n_neurons = self.hidden.shape[1]

    def _logits_without(self, silenced: np.ndarray) -> np.ndarray:
        return run(self.network, self.modules, self.x, self.logits.shape[1], self.settings, (self.index, silenced))[1]
