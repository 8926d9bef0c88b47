"""A network nntopo did not train (the config's ``external``): run it on a dataset's analysed points
(nntopo.data.points) with forward hooks on the named modules, and write the files a trained model's
folder holds; or take activations recorded elsewhere in nntopo's store. Every later stage then reads
them as any model's.

Two kinds of network are run: a ``torch.export`` program (a .pt2 of ``torch.export.save``), whose module
hierarchy ``torch.export.unflatten`` gives back so that hooks reach its modules; and an importable
``nn.Module`` class with its state dict. TorchScript is not one of them: a loaded ScriptModule refuses
forward hooks ("register_forward_hook is not supported on ScriptModules", torch 2.14), and torch.export
is what torch now recommends instead of it.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nntopo import store
from nntopo import task as tasks
from nntopo.config import ConfigError
from nntopo.config.external import module_names, unknown_modules

CHUNK = 1000  # inputs per forward pass: a bounded memory, whatever the model's layers hold


class ExternalError(ConfigError):
    """An external network that cannot be analysed; the message names it, its file and the fix."""


def _where(settings: dict) -> str:
    files = ", ".join(settings["files"])
    return f"external network {settings['name']} ({files})"


def load_network(settings: dict) -> nn.Module:
    """The network of an external entry (config.external_slice), on the CPU in eval mode, float32."""
    where = _where(settings)
    if settings["kind"] == "program":
        try:
            program = torch.export.load(settings["program"])
        except Exception as error:  # torch raises many types for a foreign file
            raise ExternalError(f"{where}: not a program torch.export.save wrote ({_first_line(error)}); save it "
                                f"again with torch.export.save") from None
        network = torch.export.unflatten(program)
    else:
        module_name, class_name = settings["module"].split(":")
        if str(Path.cwd()) not in sys.path:  # the folder snakemake runs in, as for a script run there
            sys.path.insert(0, str(Path.cwd()))
        try:
            network = getattr(importlib.import_module(module_name), class_name)(**settings["kwargs"])
        except (ImportError, AttributeError, TypeError) as error:
            raise ExternalError(f"external network {settings['name']}: cannot build {settings['module']}"
                                f"(**{settings['kwargs']}) ({type(error).__name__}: {_first_line(error)}); put its "
                                f"folder on PYTHONPATH and check its kwargs") from None
        try:
            state = torch.load(settings["state_dict"], map_location="cpu", weights_only=True)
            network.load_state_dict(state)
        except Exception as error:
            raise ExternalError(f"{where}: does not load into {settings['module']} ({_first_line(error)}); save "
                                f"it with torch.save(model.state_dict(), path) from that class") from None
    return network.float().eval()


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def layer_modules(settings: dict) -> list[tuple[str, int | str | None]]:
    """(module name, element of its output: an index, a key, or None for the output itself) of each
    recorded layer, from the entry's ``layers`` (a name, or {module: name, output: element})."""
    return [(item, None) if isinstance(item, str) else (item["module"], item["output"]) for item in settings["layers"]]


def layer_label(name: str, element: int | str | None) -> str:
    """How a recorded layer is named in messages and metrics: ``lstm`` or ``lstm[0]``."""
    return name if element is None else f"{name}[{element!r}]"


def named_modules(network: nn.Module, names: list[str], settings: dict, key: str = "layers") -> list[nn.Module]:
    """The modules called ``names`` (the entry's ``key``), or one line with the nearest names of those the
    network lacks and the names it has."""
    modules = dict(network.named_modules())
    problem = unknown_modules(names, list(modules))
    if problem:
        known = [name for name in modules if name]
        raise ExternalError(f"{_where(settings)}: {key} names {problem}; its modules are: "
                            f"{', '.join(known[:60])}{' ...' if len(known) > 60 else ''}; fix the name in its {key}")
    return [modules[name] for name in names]


def recorded_modules(network: nn.Module, settings: dict) -> list[nn.Module]:
    """The module of each recorded layer (``layer_modules``' order), for ``Hooks`` and ``run``."""
    return named_modules(network, module_names(settings, "layers"), settings)


def element_of(output, element, what: str):
    """The tensor ``element`` (an index or a key; None: ``output`` itself) of a module's or network's
    output; ExternalError (a ValueError) naming ``what`` and the elements it has when it has no such tensor."""
    if element is None:
        return output
    try:  # a tensor has no elements: its [0] would be its first row
        value = None if isinstance(output, torch.Tensor) else output[element]
    except (IndexError, KeyError, TypeError):
        value = None
    if not isinstance(value, torch.Tensor):
        kinds = (list(output) if isinstance(output, dict) else
                 [f"{i}: {type(v).__name__}" for i, v in enumerate(output)] if isinstance(output, (tuple, list)) else
                 [type(output).__name__])
        raise ExternalError(f"{what} has no tensor {element!r} in its output ({', '.join(map(str, kinds))}); "
                            f"give output: an index or key of a tensor it returns")
    return value


def with_element(output, element, value):
    """``output`` with its ``element`` replaced by ``value`` (a new tuple or dict; ``value`` itself for None)."""
    if element is None:
        return value
    if isinstance(output, dict):
        return {**output, element: value}
    parts = list(output)
    parts[element] = value
    return type(output)(parts) if isinstance(output, tuple) and not hasattr(output, "_fields") else \
        type(output)(*parts) if hasattr(output, "_fields") else parts


def reduce_units(values: torch.Tensor, unit_axis: int, reduction: str) -> torch.Tensor:
    """A module's output as N x units: the unit axis kept, every other axis after the first reduced by
    ``reduction`` (max or mean), as a convolutional layer's maps are."""
    if values.ndim == 2:
        return values
    units = values.movedim(unit_axis, 1).flatten(2)
    return units.amax(dim=2) if reduction == "max" else units.mean(dim=2)


class Hooks:
    """Forward hooks on the recorded modules (``layer_modules``' order), for one ``run``: each call keeps
    every module's recorded element reduced to N x units, and ``silence`` (module index, units) zeroes
    those units of that element first, so that the rest of the network runs on without them."""

    def __init__(self, modules: list[nn.Module], settings: dict, silence: tuple[int, np.ndarray] | None = None):
        self.layers, self.settings = layer_modules(settings)[:len(modules)], settings
        self.names = [layer_label(*layer) for layer in self.layers]
        self.outputs: list[torch.Tensor | None] = [None] * len(modules)
        self.shapes: list[list[int] | None] = [None] * len(modules)  # one input's output, before reduction
        self.silence = None if silence is None else (silence[0], torch.from_numpy(silence[1]))
        self.handles = [module.register_forward_hook(self._hook(i)) for i, module in enumerate(modules)]

    def _hook(self, index: int):
        element = self.layers[index][1]

        def hook(module, inputs, output):
            values = self.element(output, index)
            if self.silence is not None and self.silence[0] == index:
                values = silenced(values, self.silence[1], self.settings["unit_axis"])
                output = with_element(output, element, values)
            self.shapes[index] = list(values.shape[1:])
            self.outputs[index] = reduce_units(values, self.settings["unit_axis"], self.settings["spatial_reduction"])
            return output
        return hook

    def element(self, output, index: int) -> torch.Tensor:
        """The recorded tensor of module ``index``'s ``output``; one line naming what it returns when it
        is not one (a tuple without ``output:``, an element it does not have)."""
        name, element = self.layers[index]
        if element is None and not isinstance(output, torch.Tensor):
            raise ExternalError(f"{_where(self.settings)}: module {name!r} returns {_elements(output)}, not a tensor; "
                                f"pick one in layers as {{module: {name}, output: <index or key>}}")
        if element is not None and isinstance(output, torch.Tensor):  # torch.export keeps only the elements used
            raise ExternalError(f"{_where(self.settings)}: module {name!r} returns one tensor here, not a tuple or dict "
                                f"(a program's module returns only what the rest of its graph uses); name it in layers "
                                f"without output: {element!r}")
        return element_of(output, element, f"{_where(self.settings)}: module {name!r}")

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _elements(output) -> str:
    """What a module returns, for a message: "a tuple (0: Tensor, 1: tuple)", "a dict (out, aux)"."""
    if isinstance(output, dict):
        return f"a dict ({', '.join(map(str, output))})"
    if isinstance(output, (tuple, list)):
        return f"a {type(output).__name__} ({', '.join(f'{i}: {type(v).__name__}' for i, v in enumerate(output))})"
    return f"a {type(output).__name__}"


def silenced(values: torch.Tensor, units, unit_axis: int) -> torch.Tensor:
    """``values`` with ``units`` (indices along ``unit_axis``) zeroed."""
    mask = torch.ones(values.shape[unit_axis], dtype=values.dtype)
    mask[units] = 0
    return values * mask.reshape(-1, *[1] * (values.ndim - 1 - unit_axis % values.ndim))


def network_output(output, settings: dict) -> torch.Tensor:
    """The network's output layer: its output, or the element the entry's ``output`` names of a tuple or
    dict it returns; one line naming what it returns otherwise."""
    element = settings.get("output")
    if element is None and not isinstance(output, torch.Tensor):
        raise ExternalError(f"{_where(settings)}: the network returns {_elements(output)}, not a tensor; give the "
                            f"entry output: <index or key> of its output layer")
    return element_of(output, element, f"{_where(settings)}: the network")


def model_inputs(x: np.ndarray, settings: dict, shape=None) -> torch.Tensor:
    """The dataset's flat inputs in the shape the network reads: ``shape`` (``input_shape_of``'s), else
    the entry's ``input_shape``, else flat."""
    shape = shape or settings.get("input_shape") or [x.shape[1]]
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(len(x), *shape)


@torch.no_grad()
def input_shape_of(network: nn.Module, x: np.ndarray, settings: dict, dataset_shape) -> list[int]:
    """The shape the network reads one input in: the entry's ``input_shape`` when it gives one; else
    the dataset's (channels x height x width of an image, dimensions of a point) if the network takes
    it, else the flat vector; one line naming both shapes when it takes neither."""
    if settings.get("input_shape"):
        return list(settings["input_shape"])
    tried = []
    for shape in dict.fromkeys((tuple(dataset_shape), (x.shape[1],))):  # one try when they are the same
        try:
            network(model_inputs(x[:2], settings, shape))
            return list(shape)
        except Exception as error:  # a foreign network raises anything on inputs it cannot take
            tried.append(f"{list(shape)} ({type(error).__name__}: {_first_line(error)})")
    raise ExternalError(f"{_where(settings)}: it takes {settings['dataset']} inputs neither as {' nor as '.join(tried)}; "
                        f"set its input_shape to the shape it reads")


@torch.no_grad()
def run(network: nn.Module, modules: list[nn.Module], x: torch.Tensor, n_outputs: int, settings: dict,
        silence: tuple[int, np.ndarray] | None = None, task: str = tasks.CLASSIFICATION):
    """(per recorded module, N x units; the N x n_outputs outputs (scores per class, or a regressor's d
    values); per module, one input's output shape) of the network on ``x``, in chunks, with the units
    ``silence`` names (module index, units) zeroed. ``modules`` are the first of ``layer_modules``'
    (named_modules' of their names); their hooks are in place for this call alone."""
    hooks = Hooks(modules, settings, silence)
    try:
        return _run(network, hooks, x, n_outputs, settings, task) + (hooks.shapes,)
    finally:
        hooks.remove()


def _run(network: nn.Module, hooks: Hooks, x: torch.Tensor, n_outputs: int, settings: dict, task: str):
    hidden, outputs = [], []
    for start in range(0, len(x), CHUNK):
        try:
            output = network(x[start:start + CHUNK])
        except ExternalError:
            raise
        except Exception as error:
            raise ExternalError(f"{_where(settings)}: the {settings['dataset']} inputs, shaped {list(x.shape[1:])}, "
                                f"do not fit the network ({type(error).__name__}: {_first_line(error)}); set its "
                                f"input_shape (e.g. [1, 28, 28] for a CNN)") from None
        output = checked_output(network_output(output, settings), len(x[start:start + CHUNK]), n_outputs, settings, task)
        missing = [name for name, values in zip(hooks.names, hooks.outputs) if values is None]
        if missing:
            raise ExternalError(f"{_where(settings)}: module {', '.join(map(repr, missing))} never ran in the "
                                f"forward pass; record modules the forward pass calls")
        hidden.append([values.numpy().copy() for values in hooks.outputs])
        outputs.append(output.numpy().copy())
        hooks.outputs = [None] * len(hooks.outputs)
    return [np.concatenate(parts) for parts in zip(*hidden)], np.concatenate(outputs)


def checked_output(output: torch.Tensor, n: int, n_outputs: int, settings: dict, task: str) -> torch.Tensor:
    """The network's output layer on ``n`` inputs as N x n_outputs (a regressor's N outputs of one target
    as N x 1), or one line saying what it gives instead and what the dataset asks."""
    if task == tasks.REGRESSION and output.ndim == 1 and n_outputs == 1:
        output = output.reshape(-1, 1)
    if output.ndim == 2 and output.shape == (n, n_outputs):
        return output
    dataset = settings["dataset"]
    if output.ndim == 2 and len(output) == n:
        values = f"it outputs {output.shape[1]} value{'s' if output.shape[1] != 1 else ''} per point, but {dataset}"
        if task == tasks.REGRESSION:
            raise ExternalError(f"{_where(settings)}: {values} has {n_outputs} target{'s' if n_outputs != 1 else ''}"
                                f"{': a classifier on a regression dataset?' if output.shape[1] > n_outputs else ''}; "
                                f"give a network that outputs its {n_outputs} target value(s) per point")
        if output.shape[1] == 1:
            raise ExternalError(f"{_where(settings)}: {values} has {n_outputs} classes: a regressor on a "
                                f"classification dataset?; give a network with one score per class, N x {n_outputs}")
    wanted = f"N x {n_outputs} target values" if task == tasks.REGRESSION else f"one score per class, N x {n_outputs}"
    raise ExternalError(f"{_where(settings)}: its output is {list(output.shape)} for {n} inputs; nntopo needs "
                        f"{wanted} ({dataset})")


def check_modules(network: nn.Module, settings: dict) -> list[nn.Module]:
    """Right after the network loads, before any data is read or any forward pass: the modules ``layers``
    and ``weight_modules`` name exist (the nearest names otherwise), and each weight module has a 2-D or
    4-D weight (a Linear's or Conv2d's; its bias may be absent). Gives the recorded layers' modules."""
    modules = recorded_modules(network, settings)
    names = settings.get("weight_modules") or []
    for name, module in zip(names, named_modules(network, names, settings, "weight_modules")):
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.ndim not in (2, 4):
            raise ExternalError(f"{_where(settings)}: weight module {name!r} ({type(module).__name__}) has no 2-D or "
                                f"4-D weight; name a Linear or Conv2d module in its weight_modules")
    return modules


def weight_layers(network: nn.Module, settings: dict, widths: list[int]) -> dict[str, store.Layer]:
    """weights.h5's layers from ``weight_modules`` (one per recorded layer, then the output's; checked by
    ``check_modules``), with as many units as the layer they map to. A module without a bias (a
    convolution before batch normalisation) gets a zero bias."""
    names = settings["weight_modules"]
    layers = {}
    for layer, name, module, units in zip(store.layer_names(len(widths) - 1), names,
                                          named_modules(network, names, settings, "weight_modules"), widths):
        weight, bias = module.weight.detach().numpy().copy(), getattr(module, "bias", None)
        if len(weight) != units:
            raise ExternalError(f"{_where(settings)}: weight module {name!r} has {len(weight)} outputs, but {layer} "
                                f"has {units} units; name the module that computes {layer}")
        bias = np.zeros(len(weight), weight.dtype) if bias is None else bias.detach().numpy().copy()
        layers[layer] = store.Layer(weight, bias)
    return layers


def neural_persistence(layers: dict[str, store.Layer], settings: dict) -> dict | None:
    """The weights' neural persistence on their dense layers, as training records it for its last
    epoch ("final"), with ``settings`` (config ``neural_persistence``); None without dense layers."""
    from nntopo.topology import persistence

    dense = {name: layer for name, layer in layers.items() if not layer.is_convolution}
    if not dense:
        return None
    final = persistence.of_layers({name: layer.weight for name, layer in dense.items()},
                                  {name: layer.bias for name, layer in dense.items()}, settings["p"],
                                  np.random.default_rng(settings["seed"]), bool(settings.get("bias_vertex")),
                                  bool(settings.get("essential")))
    return {**settings, "final": final}


def _source(settings: dict) -> dict:
    """Which files an external network came from: its kind, and each file's path and SHA-256."""
    return {"kind": settings["kind"], "files": settings["files"]}


def _provenance(settings: dict, dataset, chosen, **extra) -> dict:
    """Root attributes of an external network's files: the usual ones (what the inputs were, which
    points were analysed, a regressor's task and level sets), and its ``_source``, so that every later
    output can name it."""
    from nntopo.network.stage import input_attrs

    return store.provenance(settings["dataset"], settings["name"], settings["seed"], settings,
                            **input_attrs(dataset), **chosen.attrs(),
                            external=json.dumps(_source(settings), sort_keys=True), **extra)


def _analysed(settings: dict, points: dict | None, data_dir, download: bool, data_file, train: bool = True):
    """(the dataset, its analysed points: ``points`` is config.points_slice, every test point by default)."""
    from nntopo import data
    from nntopo.data.points import ALL_TEST_POINTS, analysed

    points = points or ALL_TEST_POINTS
    dataset = data.load(settings["dataset"], data_dir, download, train=train or points["split"] == "train",
                        data_file=data_file)
    return dataset, analysed(dataset, points)


def scores(outputs: np.ndarray, labels: np.ndarray, targets: np.ndarray | None, split: str) -> dict:
    """How well ``outputs`` do on points of ``split`` (test, train, analysed): a classifier's accuracy
    (``{split}_accuracy``), or a regressor's mean squared error and relative L2 error (``{split}_mse``,
    ``{split}_relative_l2``) of its ``targets``."""
    if targets is None:
        return {f"{split}_accuracy": float(np.mean(outputs.argmax(1) == labels))}
    return {f"{split}_mse": tasks.mse(outputs, targets), f"{split}_relative_l2": tasks.relative_l2(outputs, targets)}


def record_network(settings: dict, outputs, *, data_dir, download: bool = False, threads: int = 1, log=print,
                   data_file=None, neural_persistence_settings: dict | None = None, points: dict | None = None) -> dict:
    """Run an external network (``settings``: config.external_slice) on its dataset's analysed ``points``
    (config.points_slice) and write ``outputs.activations``, ``outputs.metrics`` and, with
    weight_modules, ``outputs.weights``. Its modules are checked as soon as it loads, before the data."""
    torch.set_num_threads(threads)
    start = time.perf_counter()
    network = load_network(settings)
    modules = check_modules(network, settings)
    dataset, chosen = _analysed(settings, points, data_dir, download, data_file)
    shape = input_shape_of(network, chosen.x, settings, dataset.input_shape)
    log(f"{settings['name']}: recording {chosen.describe()} of {settings['dataset']}, read as {shape}")

    def outputs_on(x, modules=()):  # the output alone when no module is recorded
        return run(network, list(modules), model_inputs(x, settings, shape), dataset.n_outputs, settings,
                   task=dataset.task)

    hidden, output, shapes = outputs_on(chosen.x, modules)
    labels = [layer_label(*layer) for layer in layer_modules(settings)]
    for name, values in zip([*labels, "the output"], (*hidden, output)):
        if not np.isfinite(values).all():
            raise ExternalError(f"{_where(settings)}: {name} holds NaN or infinite values on {chosen.describe()} of "
                                f"{settings['dataset']}; check the network and its input_shape")
    whole_test = chosen.split == "test" and len(chosen.index) == len(dataset.y_test)
    test = scores(output if whole_test else outputs_on(dataset.x_test)[1], dataset.y_test, dataset.targets_of("test"),
                  "test")
    widths = [values.shape[1] for values in (*hidden, output)]
    what = "classes" if dataset.levels is None else "target values"
    log(f"{settings['name']} on {settings['dataset']}: layers {dict(zip(labels, widths))} units, output "
        f"{widths[-1]} {what}; {', '.join(f'{key} {value:.4g}' for key, value in test.items())} "
        f"({time.perf_counter() - start:.1f} s)")
    attrs = _provenance(settings, dataset, chosen, spatial_reduction=settings["spatial_reduction"],
                        layer_modules=json.dumps(settings["layers"]), network_input_shape=shape)
    layers = weight_layers(network, settings, widths) if settings.get("weight_modules") else None
    metrics = _metrics(settings, test, layers, neural_persistence_settings, log, chosen, output,
                       **scores(outputs_on(dataset.x_train)[1], dataset.y_train, dataset.targets_of("train"), "train"),
                       network_input_shape=shape, layer_shapes=dict(zip(labels, shapes)),
                       record_seconds=time.perf_counter() - start, threads=threads)
    _write(outputs, layers, hidden, output, chosen, attrs, metrics, log, dataset.levels)
    return metrics


def _metrics(settings: dict, test: dict, layers, np_settings: dict | None, log, chosen, outputs, **extra) -> dict:
    """metrics.json: ``test`` (``scores`` on the test split), the analysed points' scores when they are
    not the test split, the weights' statistics and neural persistence, and ``extra``."""
    from nntopo.network.train import weight_stats_of

    persistence = None
    if layers is None:
        log(f"{settings['name']}: no weights given, so its neural persistence, weight figure and space of neurons "
            f"are skipped")
    else:
        persistence = neural_persistence(layers, np_settings) if np_settings else None
        if persistence:
            log(f"{settings['name']}: mean normalised neural persistence {persistence['final']['mean_normalized']:.4f} "
                f"(dense layers)")
    task = {} if chosen.targets is None else {"task": tasks.REGRESSION}
    return {"dataset": settings["dataset"], "model": settings["name"], "seed": settings["seed"], "settings": settings,
            "external": _source(settings), **task, **test, "analysed_points": chosen.describe(),
            **(scores(outputs, chosen.y, chosen.targets, "analysed") if chosen.split != "test" else {}),
            **(weight_stats_of(layers) if layers else {}), "neural_persistence": persistence, **extra,
            "versions": store.versions()}


def _write(outputs, layers, hidden, output, chosen, attrs: dict, metrics: dict, log, levels: dict | None) -> None:
    if layers is not None:
        store.check_chain(layers, outputs.weights)  # as a trained model's do, before any file is written
        store.write_weights(outputs.weights, layers, attrs)
    store.write_activations(outputs.activations, hidden, output, chosen.y, tasks.predicted(output, levels), attrs,
                            chosen.index, targets=chosen.targets)
    store.write_metrics(outputs.metrics, metrics)
    log(f"wrote {', '.join(str(path) for path in outputs)}")


def import_recorded(settings: dict, outputs, *, data_dir, download: bool = False, log=print, data_file=None,
                    neural_persistence_settings: dict | None = None, points: dict | None = None) -> dict:
    """Activations (and weights) recorded elsewhere, checked to be of the analysed ``points``
    (config.points_slice: every test point by default) in nntopo's order (a regression dataset's: a
    regression file with those points' targets), written where a trained model's are with this study's
    provenance (theirs kept as ``recorded_attrs``). No network runs: the ablation is skipped
    (``NO_NETWORK``)."""
    acts = store.read_activations(settings["activations"])
    layers = store.read_weights(settings["weights"]) if "weights" in settings else None
    dataset, chosen = _analysed(settings, points, data_dir, download, data_file, train=False)
    expected = f"{chosen.describe()} of {settings['dataset']}"
    if len(acts.labels) != len(chosen.y):
        raise ExternalError(f"{_where(settings)}: {settings['activations']} holds {len(acts.labels)} points, but the "
                            f"analysed points are {expected}; record those (or set analysis.split and analysis.points "
                            f"to the points recorded)")
    _check_recorded_task(settings, acts, dataset, chosen, expected)
    if not np.array_equal(acts.labels, chosen.y):
        raise ExternalError(f"{_where(settings)}: its labels are not those of {expected} in nntopo's order "
                            f"({int(np.sum(acts.labels != chosen.y))} differ); record those points in the order "
                            f"nntopo.data.points gives them")
    analysed = scores(acts.output, chosen.y, chosen.targets, "test")
    # The recorded points are all the network was run on: its test scores are theirs when they are test points.
    test = analysed if chosen.split == "test" else dict.fromkeys(analysed, float("nan"))
    log(f"{settings['name']} on {settings['dataset']}: recorded layers of {[h.shape[1] for h in acts.hidden]} units "
        f"on {chosen.describe()}, {', '.join(f'{key[5:]} {value:.4g}' for key, value in analysed.items())}; "
        f"ablation skipped: {NO_NETWORK}")
    attrs = _provenance(settings, dataset, chosen, no_network=NO_NETWORK,
                        recorded_attrs=json.dumps({k: str(v) for k, v in acts.attrs.items()}, sort_keys=True))
    metrics = _metrics(settings, test, layers, neural_persistence_settings, log, chosen, acts.output)
    _write(outputs, layers, acts.hidden, acts.output, chosen, attrs, metrics, log, dataset.levels)
    return metrics


def _check_recorded_task(settings: dict, acts, dataset, chosen, expected: str) -> None:
    """Recorded activations of the dataset's task: a regressor's file, with those points' targets, on a
    regression dataset; a classifier's on a classification one."""
    where = f"{_where(settings)}: {settings['activations']}"
    if acts.task != dataset.task:
        raise ExternalError(f"{where} is a {acts.task} file, but {settings['dataset']} is a {dataset.task} "
                            f"dataset; record the network's outputs on it as nntopo.store.write_activations does "
                            f"for a {dataset.task}")
    if chosen.targets is not None and not np.allclose(acts.targets, chosen.targets):
        raise ExternalError(f"{where}: its targets are not those of {expected} in nntopo's order; record those "
                            f"points' targets in the order nntopo.data.points gives them")


NO_NETWORK = ("its activations were recorded elsewhere and no network was given, so no units can be silenced and "
              "the layers after them run again")

