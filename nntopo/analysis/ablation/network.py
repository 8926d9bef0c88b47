"""Silence units of a network the user brings (config `external`): zeroed in the output of the module
that is their layer (its recorded element), and the network run on from there on the analysed points'
inputs. The counterpart of ``recorded.Ablator`` for a network nntopo cannot replay from recorded layers
(any architecture), in float32 as it was recorded.

What one silenced set costs is kept small three ways, each giving the outputs one full pass per set
gives (``_logits_without``, kept as the reference):

- The work before the silenced module is done once per chunk of points, not once per set. A clean
  pass of the chunk runs until the silenced module's first call ends (``_Trace``), and the outputs of
  the outermost module calls that ended before that call began, and of that call itself, are kept:
  nothing the silencing changes reached them. In every silenced pass those modules give a fresh copy
  of their kept output instead of computing (``_Served``), for their first call alone; any later call
  runs. A call is not kept when it changed its inputs in place, returns one of its inputs, a parameter
  or a buffer (or a view of one), returns anything but tensors in tuples, lists and dicts, or when its
  output was changed in place before the silenced module ended: then the modules it called are looked
  at instead, and at worst everything runs.
- Several sets per pass: ``STACK`` copies of a chunk along the batch, each with its own units zeroed.
  Layers in eval mode treat each input alone (batch normalisation uses its running statistics), so a
  copy's outputs are those of its set run alone. A probe of two and three inputs finds each output's
  batch axis; where one cannot be found, one set a pass.
- The job's threads (``threads``, which the rule gives).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import torch
from torch import nn

from nntopo import task as tasks
from nntopo.analysis.ablation.silencing import Remembered, checked_targets
from nntopo.network import external

CHUNK_POINTS = 125  # points per clean pass: its outputs up to the silenced module are kept while the sets run
STACK = 8  # silenced sets per pass: 8 copies of 125 points, the 1,000 inputs of a recording pass

_PLAIN = (type(None), bool, int, float, str)  # leaves of an output that can be handed back as they are


class NetworkAblator(Remembered):
    """Ablated outputs' scores (correct, or a regressor's squared error against ``targets``) for any unit
    set of recorded layer ``layer_index`` (0: hidden_1) of an external network (``settings``: its config
    slice), remembered per set. ``shape`` is the input shape the network was recorded with (the
    activations' ``network_input_shape``; its input_shape or the dataset's when the entry gives none);
    ``threads``: torch's threads for the job."""

    def __init__(self, network: nn.Module, settings: dict, x: np.ndarray, layer_index: int, y_true, shape=None,
                 targets=None, threads: int = 1):
        torch.set_num_threads(threads)
        self.network, self.settings, self.index = network, settings, layer_index
        self.modules = external.recorded_modules(network, settings)
        self.module, self.element = self.modules[layer_index], external.layer_modules(settings)[layer_index][1]
        self.x = external.model_inputs(x, settings, None if shape is None else [int(s) for s in shape])
        self.y_true = np.asarray(y_true, dtype=np.int64)
        self.task = tasks.CLASSIFICATION if targets is None else tasks.REGRESSION
        n_outputs = int(self.y_true.max()) + 1 if targets is None else tasks.targets_2d(targets).shape[1]
        hidden, self.logits, _ = external.run(network, self.modules, self.x, n_outputs, settings, task=self.task)
        self.targets = checked_targets(targets, self.logits)
        self.hidden = hidden[layer_index]  # as recorded: the caller checks it against the files
        self.n_neurons = self.hidden.shape[1]

    def _logits_without(self, silenced: np.ndarray) -> np.ndarray:
        """One full pass of every point with ``silenced`` zeroed: what the faster passes must give."""
        return external.run(self.network, self.modules, self.x, self.logits.shape[1], self.settings,
                            (self.index, silenced), task=self.task)[1]

    def _outputs_each(self, sets: list[np.ndarray]):
        parts = [[] for _ in sets]
        for _, outputs in self._chunks(sets):
            for part, output in zip(parts, outputs):
                part.append(output)
        return (np.concatenate(part) for part in parts)

    def _scores_each(self, sets: list[np.ndarray]):
        """Each set's scores, a chunk at a time: only the scores of every set are held, not its outputs."""
        parts = [[] for _ in sets]
        for points, outputs in self._chunks(sets):
            for part, output in zip(parts, outputs):
                part.append(self.scores_of(output, points))
        return (np.concatenate(part) for part in parts)

    @functools.cached_property
    def _batch_axes(self) -> dict:
        """Per module, the batch axis of each tensor its first call returns (None where no one axis grows
        with the batch), from the network run on two and three copies of the first input up to the
        silenced module's end; under the key None, 0 when the silenced element's batch axis is its first
        (as recorded) and its units lie on another, else None."""
        shapes, elements = [], []
        for n in (2, 3):
            trace = _Trace(self.network, self.module)
            trace.run(self.x[[0] * n])
            firsts = {}
            for call in trace.calls:
                firsts.setdefault(call.module, call)
            shapes.append({module: [None if t is None else tuple(t.shape) for t in call.leaves]
                           for module, call in firsts.items() if call.end is not None})
            elements.append(tuple(self._element(trace.first.output).shape))
        axes = {module: [_batch_axis(two, three) for two, three in zip(leaves, shapes[1][module])]
                for module, leaves in shapes[0].items() if len(leaves) == len(shapes[1].get(module, ()))}
        stackable = _batch_axis(*elements) == 0 and self.settings["unit_axis"] % len(elements[0]) != 0
        axes[None] = 0 if stackable else None
        return axes

    @functools.cached_property
    def _stack(self) -> int:
        """Sets per pass: ``STACK`` when the silenced element has a batch axis apart from its units'."""
        return 1 if self._batch_axes[None] is None else STACK

    @torch.no_grad()
    def _chunks(self, sets: list[np.ndarray]):
        """(points, [the N x C outputs of those points for each set]) per chunk of ``CHUNK_POINTS``."""
        stack = self._stack
        for start in range(0, len(self.x), CHUNK_POINTS):
            x = self.x[start:start + CHUNK_POINTS]
            trace = _Trace(self.network, self.module)
            trace.run(x)
            kept = trace.reusable(self._batch_axes if stack > 1 else None)
            outputs = []
            for first in range(0, len(sets), stack):
                group = sets[first:first + stack]
                with _Served(kept, len(group), self._batch_axes), self._silencing(group, len(x)):
                    output = self.network(torch.cat([x] * len(group)) if len(group) > 1 else x)
                output = external.checked_output(external.network_output(output, self.settings),
                                                 len(x) * len(group), self.logits.shape[1], self.settings, self.task)
                outputs.extend(part.numpy().copy() for part in output.split(len(x)))
            yield slice(start, start + len(x)), outputs

    def _element(self, output) -> torch.Tensor:
        return external.element_of(output, self.element, "the silenced module")

    def _silencing(self, group: list[np.ndarray], n: int):
        """The hook zeroing each copy's set in every call of the silenced module (one set: as ``run``)."""
        unit_axis = self.settings["unit_axis"]
        if len(group) == 1:
            units = torch.from_numpy(group[0])

            def zero(values):
                return external.silenced(values, units, unit_axis)
        else:
            masks = torch.ones(len(group), self.n_neurons)
            for row, units in zip(masks, group):
                row[torch.from_numpy(units)] = 0

            def zero(values):  # the batch on axis 0 (``_batch_axes``), copy s's rows s*n .. s*n + n - 1
                shape = [1] * values.ndim
                shape[0], shape[unit_axis % values.ndim] = len(values), self.n_neurons
                return values * masks.to(values.dtype).repeat_interleave(n, dim=0).reshape(shape)

        def hook(module, inputs, output):
            return external.with_element(output, self.element, zero(self._element(output)))

        return _Handles([self.module.register_forward_hook(hook)])


def _batch_axis(two: tuple | None, three: tuple | None) -> int | None:
    """The one axis that is 2 long for two inputs and 3 long for three, all others the same; else None."""
    if two is None or three is None or len(two) != len(three):
        return None
    differ = [axis for axis, (a, b) in enumerate(zip(two, three)) if a != b]
    return differ[0] if len(differ) == 1 and (two[differ[0]], three[differ[0]]) == (2, 3) else None


def _leaves(value) -> list | None:
    """The tensors (None for a plain value) of an output in tuples, lists and dicts, in order; None when
    it holds anything else."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, _PLAIN):
        return [None]
    if isinstance(value, (tuple, list, dict)):
        parts = [_leaves(part) for part in (value.values() if isinstance(value, dict) else value)]
        return None if any(part is None for part in parts) else list(itertools.chain.from_iterable(parts))
    return None


def _rebuilt(value, tensors):
    """``value`` with its tensors replaced, in order, by those ``tensors`` (an iterator) gives."""
    if isinstance(value, torch.Tensor):
        return next(tensors)
    if isinstance(value, _PLAIN):
        next(tensors)
        return value
    if isinstance(value, dict):
        return type(value)((key, _rebuilt(part, tensors)) for key, part in value.items())
    parts = [_rebuilt(part, tensors) for part in value]
    return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)


def _storage(tensor: torch.Tensor) -> int:
    return tensor.untyped_storage().data_ptr()


class _Stop(BaseException):
    """Ends a clean pass when the silenced module's first call has ended (nothing after it is kept);
    not an Exception, so that a network's own ``except Exception`` lets it through."""


class _Call:
    """One module call of a clean pass: where it began and ended (a clock of calls' beginnings and
    ends), the call around it, its output and whether that output may stand in for the call."""

    def __init__(self, module: nn.Module, start: int, parent: _Call | None, inputs: list[torch.Tensor]):
        self.module, self.start, self.parent, self.end = module, start, parent, None
        self.inputs = None if inputs is None else [(tensor, tensor._version) for tensor in inputs]  # None: unknown
        self.output, self.leaves, self.versions, self.safe = None, [], [], False
        self.inside = False  # within a call whose output is served: never runs in a silenced pass


class _Trace:
    """Hooks on every module of ``network`` for one clean pass of a chunk, which ends with the first
    call of ``silenced`` (the silenced module): every call, nested as they ran, and its output."""

    def __init__(self, network: nn.Module, silenced: nn.Module):
        self.network, self.silenced = network, silenced
        self.calls: list[_Call] = []
        self.open: list[_Call] = []
        self.clock = 0
        self.first: _Call | None = None  # the silenced module's first call
        self.owned = {_storage(t) for t in itertools.chain(network.parameters(), network.buffers()) if t.numel()}

    @torch.no_grad()
    def run(self, x: torch.Tensor) -> None:
        handles = _Handles([hook for module in self.network.modules() for hook in (
            module.register_forward_pre_hook(self._enter, with_kwargs=True),
            module.register_forward_hook(self._leave, with_kwargs=True))])
        with handles:
            try:
                self.network(x)
            except _Stop:
                pass

    def _enter(self, module, args, kwargs):
        leaves = _leaves((args, kwargs))
        call = _Call(module, self.clock, self.open[-1] if self.open else None,
                     None if leaves is None else [t for t in leaves if t is not None])
        self.clock += 1
        self.calls.append(call)
        self.open.append(call)
        if module is self.silenced and self.first is None:
            self.first = call

    def _leave(self, module, args, kwargs, output):
        call = self.open.pop()
        call.end, self.clock = self.clock, self.clock + 1
        leaves, inputs = _leaves(output), call.inputs or []
        given = {_storage(t) for t, _ in inputs if t.numel()} | self.owned
        call.safe = (leaves is not None and call.inputs is not None and all(t._version == v for t, v in inputs)
                     and not any(t is not None and t.numel() and _storage(t) in given for t in leaves))
        call.inputs = []
        call.leaves = [None if t is None else t.detach() for t in (leaves or [])]
        if call is self.first:
            call.output = output
        if call.safe and (self.first is None or call is self.first):  # before the silenced module: kept
            call.output = output
            call.versions = [None if t is None else t._version for t in call.leaves]
        if call is self.first:
            raise _Stop

    def reusable(self, batch_axes: dict | None) -> dict[nn.Module, object]:
        """The outputs that may stand in for their module's first call in a silenced pass: of the
        outermost calls that ended before the silenced module's first call began (or are that call),
        were ``safe``, had their output unchanged since and, with ``batch_axes`` (several copies a pass),
        a batch axis for each tensor."""
        if self.first is None:
            return {}
        seen, kept = set(), {}

        def fit(call: _Call) -> bool:
            return (call.safe and call.module not in seen and (call.end < self.first.start or call is self.first)
                    and all(t is None or t._version == v for t, v in zip(call.leaves, call.versions))
                    and (batch_axes is None or (len(batch_axes.get(call.module, ())) == len(call.leaves) and all(
                        t is None or axis is not None for t, axis in zip(call.leaves, batch_axes[call.module])))))

        chosen = set()
        for call in self.calls:  # in order of their beginning: a call's parent is looked at before it
            call.inside = call.parent is not None and (call.parent in chosen or call.parent.inside)
            if not call.inside and call.end is not None and fit(call):
                chosen.add(call)
                kept[call.module] = call.output
            seen.add(call.module)  # only a module's first call may be served
        return kept


class _Served:
    """For one silenced pass of ``copies`` copies: each kept module's first call returns its kept output
    (a fresh copy, repeated along each tensor's batch axis) instead of computing."""

    def __init__(self, kept: dict, copies: int, batch_axes: dict):
        self.kept, self.copies, self.batch_axes = kept, copies, batch_axes
        self.handles, self.patched = None, []

    def __enter__(self):
        hooks = []
        for module, output in self.kept.items():
            state = {"armed": False, "served": False}

            def arm(module, args, state=state):
                if not state["served"]:
                    state["armed"] = True

            def forward(*args, module=module, output=output, state=state, original=module.forward, **kwargs):
                if state["armed"]:
                    state["armed"], state["served"] = False, True
                    return self._copy(module, output)
                return original(*args, **kwargs)

            hooks.append(module.register_forward_pre_hook(arm))
            self.patched.append((module, module.__dict__.get("forward")))
            module.forward = forward
        self.handles = _Handles(hooks)
        return self

    def _copy(self, module, output):
        leaves = _leaves(output)
        axes = self.batch_axes.get(module) or [None] * len(leaves)
        tensors = [None if t is None else t.clone() if self.copies == 1 else torch.cat([t] * self.copies, dim=axis)
                   for t, axis in zip(leaves, axes)]
        return _rebuilt(output, iter(tensors))

    def __exit__(self, *exc):
        self.handles.__exit__()
        for module, forward in self.patched:
            if forward is None:
                del module.forward
            else:
                module.forward = forward


class _Handles:
    """Hook handles removed when the ``with`` ends."""

    def __init__(self, handles):
        self.handles = handles

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
