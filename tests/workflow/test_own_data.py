"""A user's own data through the whole study, as the user brings it (issue 26; docs/guides/own-data.md).

(a) scikit-learn's digits, split as the built-in `digits` is, as an `arrays` file and as a `folder`
    tree of PNGs, studied beside the built-in digits: every output is made for each; the arrays file
    holds the built-in's very inputs (`scaling: none`), so every recorded number is the built-in's;
    the tree's PNGs give their own inputs, round(x * 255) / 255.
(b) a dataset nobody here has seen (the digits as 3 x 11 x 13 colour images with a hue per class, an
    arrays file and a tree of JPEGs), analysed with a CNN trained outside the repository, given without
    `input_shape` (as a class with its state dict on PYTHONPATH, and as a torch.export program): its
    recorded layers are an independent forward pass; the figures that draw inputs are in colour; the
    dataset's record says what the data is.
(c) bad input through the command a user runs: one line naming the file or key, before any job where
    the config can tell, and nothing half-written.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from nntopo import paths, store
from tests.workflow import reliability
from tests.workflow.own_data import make
from tests.workflow.test_bad_config import BASE, dry_run, merged
from tests.workflow.test_cnn_study import STUDY as CNN_STUDY

pytestmark = pytest.mark.workflow

OWN_DATA = Path(__file__).parent / "own_data"

# --- (a) the digits as the user's own files ------------------------------------------------------------

ARRAYS = {"name": "digits_arrays", "kind": "arrays", "path": "own/digits.npz", "scaling": "none"}
FOLDER = {"name": "digits_folder", "kind": "folder", "path": "own/digits_png", "colour": False}
DIGITS_STUDY = {**reliability.STUDY, "datasets": ["digits", ARRAYS, FOLDER]}  # every clustering method
DIGIT_CLASSES = [str(digit) for digit in range(10)]
MLP = "mlp16-l2-s0"


def results(workdir: Path, dataset: str) -> Path:
    return workdir / paths.RESULTS / dataset


def record_of(workdir: Path, dataset: str) -> dict:
    return json.loads((workdir / paths.DATASET_RECORD.format(dataset=dataset)).read_text())


def prepared(workdir: Path, dataset: str) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(workdir / paths.DATA_FILE.format(dataset=dataset), "r") as h5:
        return {key: h5[key][()] for key in ("x_train", "y_train", "x_test", "y_test")}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def digits_study(tmp_path_factory):
    """The built-in digits, the arrays file and the PNG tree studied together, and the report."""
    from tests.workflow.test_workflow import snakemake

    workdir = tmp_path_factory.mktemp("own_digits")
    split = make.digits()
    make.write_arrays(workdir / ARRAYS["path"], split)  # float32 in [0, 1], N x 8 x 8
    as_bytes = {key: np.uint8(np.round(value * 255)) if key.startswith("x") else value
                for key, value in vars(split).items()}
    make.write_folder(workdir / FOLDER["path"], make.Split(**as_bytes), DIGIT_CLASSES)
    snakemake(workdir, DIGITS_STUDY)
    snakemake(workdir, DIGITS_STUDY, "--report", "results/report.html")
    return SimpleNamespace(dir=workdir, split=split, png=make.Split(**as_bytes))


def result_files(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def logs_of(workdir: Path, dataset: str) -> set[str]:
    """The jobs' logs of ``dataset``, its name written {dataset}."""
    logs = workdir / paths.RESULTS / "logs"
    return {str(path.relative_to(logs)).replace(dataset, "{dataset}") for path in logs.rglob("*.log")
            if dataset in path.relative_to(logs).parts[1:-1] or path.name == f"{dataset}.log"}


def test_every_output_of_the_builtin_digits_is_made_for_each_own_dataset(digits_study):
    builtin = result_files(results(digits_study.dir, "digits"))
    assert len(builtin) > 60
    for own in (ARRAYS, FOLDER):
        made = result_files(results(digits_study.dir, own["name"]))
        assert made == builtin | {"data.h5", "dataset.json"}, sorted(builtin ^ made)
        # The same jobs ran, and one more: the dataset's preparation.
        assert logs_of(digits_study.dir, own["name"]) == logs_of(digits_study.dir, "digits") | {
            "dataset_data/{dataset}.log"}
    page = (digits_study.dir / paths.RESULTS / "report.html").read_text()
    assert all(f"results/{own['name']}/{MLP}" in page for own in (ARRAYS, FOLDER))


def _attributes(path: Path, dataset: str) -> dict:
    """A file's root attributes as they compare across datasets: JSON read, the dataset's name written
    "digits", and the scaling (the one thing the arrays file's provenance says otherwise) and timings
    left out."""
    def plain(value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        return json.loads(json.dumps(value, sort_keys=True, default=str).replace(dataset, "digits"))

    return {key: plain(value) for key, value in store.read_attrs(path).items()
            if key != "scaling" and not reliability.is_timing(key)}


def same_record(builtin: Path, own: Path, dataset: str) -> None:
    """Every number in ``own`` is the one in ``builtin``: HDF5 datasets bit for bit and their attributes,
    tables cell for cell, metrics.json entry for entry (timings aside); drawings and pages are not compared."""
    import pandas as pd

    if builtin.suffix == ".h5":
        numbers = {key: value for key, value in reliability.h5_fingerprint(builtin).items() if key != "@attrs"}
        theirs = {key: value for key, value in reliability.h5_fingerprint(own).items() if key != "@attrs"}
        assert numbers == theirs, own
        assert _attributes(builtin, "digits") == _attributes(own, dataset), own
    elif builtin.suffix == ".csv":
        tables = [pd.read_csv(path).replace(name, "digits") for path, name in ((builtin, "digits"), (own, dataset))]
        tables = [table.drop(columns=[c for c in table.columns if reliability.is_timing(c)]) for table in tables]
        pd.testing.assert_frame_equal(*tables, obj=str(own))
    elif builtin.suffix == ".json":
        texts = [json.dumps(reliability.without_timings(json.loads(path.read_text())), sort_keys=True)
                 for path in (builtin, own)]
        assert texts[0] == texts[1].replace(dataset, "digits"), own


def test_the_arrays_study_records_the_very_numbers_of_the_builtin_digits(digits_study):
    """The arrays file holds the built-in's float inputs with `scaling: none`: the data, then every
    activation, clustering, ranking, ablation, homology and summary number are the built-in's."""
    data = prepared(digits_study.dir, ARRAYS["name"])
    from nntopo import data as nndata

    builtin = nndata.load("digits")
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(data[key], getattr(builtin, key), err_msg=key)
        assert data[key].dtype == getattr(builtin, key).dtype
    folder, own = results(digits_study.dir, "digits"), results(digits_study.dir, ARRAYS["name"])
    compared = 0
    for path in sorted(folder.rglob("*")):
        if path.suffix in (".h5", ".csv", ".json"):
            same_record(path, own / path.relative_to(folder), ARRAYS["name"])
            compared += 1
    assert compared > 40
    assert store.read_activations(own / MLP / "activations.h5").hidden[0].shape == (540, 16)


def test_the_folder_tree_gives_its_png_inputs(digits_study):
    """The tree's grey PNGs are uint8 round(x * 255): its inputs are those over 255, listed class by class
    (the sorted subfolders) and file by file, and the network trained on them does as well as on digits."""
    data = prepared(digits_study.dir, FOLDER["name"])
    for part, (x, y) in digits_study.png.parts().items():
        order, labels = make.folder_order(y, DIGIT_CLASSES)
        wanted = (x[order].reshape(len(x), -1) / np.float32(255)).astype(np.float32)
        np.testing.assert_array_equal(data[f"x_{part}"], wanted, err_msg=part)
        np.testing.assert_array_equal(data[f"y_{part}"], labels, err_msg=part)
    # Close to the built-in's inputs (within half a grey level), not equal to them.
    order, _ = make.folder_order(digits_study.split.y_test, DIGIT_CLASSES)
    gap = np.abs(data["x_test"] - digits_study.split.x_test[order].reshape(540, -1))
    assert 0 < gap.max() <= 0.5 / 255 + 1e-7
    acts = store.read_activations(results(digits_study.dir, FOLDER["name"]) / MLP / "activations.h5")
    np.testing.assert_array_equal(acts.labels, data["y_test"])
    accuracy = {name: json.loads((results(digits_study.dir, name) / MLP / "metrics.json").read_text())["test_accuracy"]
                for name in ("digits", FOLDER["name"])}
    assert abs(accuracy["digits"] - accuracy[FOLDER["name"]]) < 0.05, accuracy


@pytest.mark.parametrize("own", [ARRAYS, FOLDER], ids=lambda own: own["kind"])
def test_the_records_of_the_digits_files(digits_study, own):
    record = record_of(digits_study.dir, own["name"])
    assert record["input_shape"] == [1, 8, 8]
    assert record["classes"] == DIGIT_CLASSES
    assert record["points"] == {"train": 1257, "test": 540}
    assert record["smallest_class"] == {"train": 122, "test": 52}  # the built-in's (nntopo/datasets.py)
    assert record["scaling"] == ({"kind": "none"} if own is ARRAYS else {"kind": "unit", "low": 0, "high": 255})
    assert record["entry"]["name"] == own["name"] and record["entry"]["kind"] == own["kind"]
    if own is ARRAYS:
        assert sha256(digits_study.dir / own["path"]) in record["sources"].values()


# --- (b) a colour dataset of an odd size, and a network trained outside the repository -------------------

COLOUR_ARRAYS = {"name": "colour_arrays", "kind": "arrays", "path": "own/colour.npz", "channels_last": True,
                 "scaling": "standardize"}
COLOUR_FOLDER = {"name": "colour_folder", "kind": "folder", "path": "own/colour_jpeg"}  # colour, unit: defaults
HEIGHT, WIDTH = make.COLOUR_SHAPE
THEIR_LAYERS = ["conv", "dense"]
# A CNN of nntopo's grid beside its MLP: one convolution (4 channels), so its first layer's channels
# and kernels are drawn; k-means alone (every method runs in the digits' study); the rest of the CNN
# study's settings as they are. The built-in grey digits beside them: the control of the colour check.
COLOUR_STUDY = {**CNN_STUDY, "cnns": [{"channels": [4], "dense": []}],
                "datasets": [COLOUR_ARRAYS, COLOUR_FOLDER, "digits"],
                "clustering": {**CNN_STUDY["clustering"], "methods": ["kmeans"]}}
COLOUR_MLP, COLOUR_CNN = "mlp16-none-s0", "cnn4-none-s0"
THEIRS = {COLOUR_ARRAYS["name"]: "theirs", COLOUR_FOLDER["name"]: "theirs_program"}  # dataset: the user's network


def drawn_inputs(dataset: str) -> dict[str, str]:
    """The figures of ``dataset`` that draw inputs (the CNN's top channels' images, the MLP's inputs
    times weights) or first-layer weights (the MLP's neurons and the mean weights of its space of
    neurons; the CNN's kernels and filters), by what they draw."""
    def at(pattern, **where):
        return pattern.format(dataset=dataset, **where)

    first = {"layer": "hidden_1", "method": "kmeans"}
    return {
        "channels": at(paths.METHOD_FIGURE, model=COLOUR_CNN, **first, figure="channels"),
        "kernels": at(paths.METHOD_FIGURE, model=COLOUR_CNN, **first, figure="neurons"),
        "filters": at(paths.MODEL_FIGURE, model=COLOUR_CNN, figure="filters"),
        "transformed": at(paths.METHOD_FIGURE, model=COLOUR_MLP, **first, figure="transformed"),
        "neurons": at(paths.METHOD_FIGURE, model=COLOUR_MLP, **first, figure="neurons"),
        "neuron_filters": at(paths.NEURON_FIGURE, model=COLOUR_MLP, layer="hidden_1", figure="neuron_filters"),
    }


def colour_targets(dataset: str) -> list[str]:
    """What the colour study builds of ``dataset``: the user's network recorded and its first layer's
    clusters ranked and ablated (the network run again on the inputs), and the figures that draw inputs."""
    theirs = {"dataset": dataset, "model": THEIRS[dataset], "layer": "hidden_1", "method": "kmeans"}
    return [paths.ABLATION.format(**theirs), *drawn_inputs(dataset).values()]


def import_theirs(folder: Path):
    """The user's module, imported from their folder (not from the repository)."""
    spec = importlib.util.spec_from_file_location("colournet", folder / "colournet.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["colournet"] = module
    spec.loader.exec_module(module)
    return module


def read_jpeg_tree(root: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The tree read by the test itself: subfolders sorted (a label is its place), files sorted, each
    image decoded to RGB; uint8 N x 3 x H x W and the labels, per split."""
    from PIL import Image

    read = {}
    for part in ("train", "test"):
        classes = sorted(p.name for p in (root / part).iterdir())
        images, labels = [], []
        for label, name in enumerate(classes):
            for file in sorted((root / part / name).iterdir()):
                with Image.open(file) as image:
                    images.append(np.asarray(image.convert("RGB")).transpose(2, 0, 1))
                labels.append(label)
        read[part] = (np.stack(images), np.array(labels, dtype=np.int64))
    return read


@pytest.fixture(scope="module")
def colour_study(tmp_path_factory):
    """The colour digits as an arrays file (channels last, class names, standardized) and a JPEG tree
    (unit scaling); a ColourNet trained by the user on each, outside the repository; the study of both
    datasets with nntopo's MLP and CNN and the user's two networks."""
    from tests.workflow.test_workflow import snakemake

    theirs = tmp_path_factory.mktemp("theirs")  # the user's own folder
    shutil.copy(OWN_DATA / "colournet.py", theirs / "colournet.py")
    colournet = import_theirs(theirs)
    workdir = tmp_path_factory.mktemp("own_colour")
    split = make.coloured(make.digits())
    make.write_arrays(workdir / COLOUR_ARRAYS["path"], split, class_names=np.array(make.DIGIT_NAMES))
    make.write_folder(workdir / COLOUR_FOLDER["path"], split, make.DIGIT_NAMES, suffix=".jpg")

    # What each network reads, computed here as each dataset's scaling says: the arrays standardized per
    # channel with the training split's mean and standard deviation (after /255); the JPEGs /255.
    unit = {part: x.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255) for part, (x, _) in split.parts().items()}
    mean = unit["train"].mean(axis=(0, 2, 3), dtype=np.float64)
    std = unit["train"].std(axis=(0, 2, 3), dtype=np.float64)
    inputs = {COLOUR_ARRAYS["name"]: {part: ((x - mean[:, None, None]) / std[:, None, None]).astype(np.float32)
                                      for part, x in unit.items()}}
    labels = {COLOUR_ARRAYS["name"]: {part: y for part, (_, y) in split.parts().items()}}
    tree = read_jpeg_tree(workdir / COLOUR_FOLDER["path"])
    inputs[COLOUR_FOLDER["name"]] = {part: (x / np.float32(255)).astype(np.float32) for part, (x, _) in tree.items()}
    labels[COLOUR_FOLDER["name"]] = {part: y for part, (_, y) in tree.items()}

    networks = {}
    for name, dataset in (("theirs", COLOUR_ARRAYS["name"]), ("theirs_program", COLOUR_FOLDER["name"])):
        x = torch.from_numpy(inputs[dataset]["train"])
        networks[name] = colournet.train(colournet.ColourNet(HEIGHT, WIDTH), x, torch.from_numpy(labels[dataset]["train"]),
                                         epochs=4)
    torch.save(networks["theirs"].state_dict(), theirs / "colournet.pt")
    program = torch.export.export(networks["theirs_program"], (torch.from_numpy(inputs[COLOUR_FOLDER["name"]]["test"][:2]),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, theirs / "colournet.pt2")
    external = [  # no input_shape: the dataset's 3 x 11 x 13
        {"name": "theirs", "dataset": COLOUR_ARRAYS["name"], "module": "colournet:ColourNet",
         "kwargs": {"height": HEIGHT, "width": WIDTH}, "state_dict": str(theirs / "colournet.pt"),
         "layers": THEIR_LAYERS, "weight_modules": ["conv.0", "dense.1", "head"]},
        {"name": "theirs_program", "dataset": COLOUR_FOLDER["name"], "program": str(theirs / "colournet.pt2"),
         "layers": THEIR_LAYERS},
    ]
    config = {**COLOUR_STUDY, "external": external}
    with pytest.MonkeyPatch.context() as patch:  # the class is imported from the user's folder, as the guide says
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(theirs), os.environ.get("PYTHONPATH")])))
        snakemake(workdir, config, *colour_targets(COLOUR_ARRAYS["name"]), *colour_targets(COLOUR_FOLDER["name"]),
                  *drawn_inputs("digits").values())
    return SimpleNamespace(dir=workdir, split=split, inputs=inputs, labels=labels, networks=networks, mean=mean, std=std)


def their_layers(network, x: np.ndarray) -> list[np.ndarray]:
    """The ColourNet's layers as the config names them (conv: each channel's map reduced by its maximum,
    spatial_reduction's default; dense) and its logits, by calling its modules in order."""
    with torch.no_grad():
        maps = network.conv(torch.from_numpy(x))
        dense = network.dense(network.pool(maps))
        return [maps.amax(dim=(2, 3)).numpy(), dense.numpy(), network.head(dense).numpy()]


@pytest.mark.parametrize("dataset, name", THEIRS.items())
def test_their_network_records_an_independent_forward_pass(colour_study, dataset, name):
    """Each recorded layer of the user's network equals the network run by the test on the test images
    it scaled itself, to float32 rounding; the labels are the ones the test read."""
    import pandas as pd

    acts = store.read_activations(colour_study.dir / paths.ACTIVATIONS.format(dataset=dataset, model=name))
    wanted = their_layers(colour_study.networks[name], colour_study.inputs[dataset]["test"])
    for recorded, expected in zip([*acts.hidden, acts.output], wanted, strict=True):
        np.testing.assert_allclose(recorded, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(acts.labels, colour_study.labels[dataset]["test"])
    accuracy = json.loads((colour_study.dir / paths.METRICS.format(dataset=dataset, model=name)).read_text())
    assert accuracy["test_accuracy"] == pytest.approx(np.mean(wanted[-1].argmax(1) == acts.labels))
    assert accuracy["test_accuracy"] > 0.8  # a hue per class: an easy dataset
    assert [int(s) for s in acts.attrs["network_input_shape"]] == [3, HEIGHT, WIDTH]  # not flat: as it was given
    # Its first layer's clusters ablated by running it again on the inputs, silencing units through the hook.
    ablation = pd.read_csv(colour_study.dir / paths.ABLATION.format(dataset=dataset, model=name, layer="hidden_1",
                                                                    method="kmeans"))
    assert len(ablation) > 0 and ablation["acc_cluster_before"].between(0, 1).all()


def hues(png: Path) -> int:
    """How many of the colour wheel's twelve 30-degree sectors a figure (read back with matplotlib) draws
    in: those holding at least 0.2% of its pixels, coloured (saturation and value above 0.3). Colour
    images and colour weights (RGB, 0.5 + w / 2 max|w|) cover the wheel; a grey dataset's figures hold
    the few hues of their colour maps (reds and blues) and marks (green boxes, the clusters' labels)."""
    import matplotlib.colors
    import matplotlib.image

    hsv = matplotlib.colors.rgb_to_hsv(matplotlib.image.imread(png)[..., :3])
    coloured = (hsv[..., 1] > 0.3) & (hsv[..., 2] > 0.3)
    sectors = np.histogram(hsv[..., 0][coloured], bins=12, range=(0, 1))[0]
    return int(np.sum(sectors >= 0.002 * coloured.size))


def test_the_figures_that_draw_inputs_are_in_colour(colour_study):
    """The inputs and first-layer weights (``drawn_inputs``) drawn in colour for both colour datasets, at
    11 x 13; the same figures of the built-in grey digits, made by the same study, are not."""
    drawn = {dataset: {name: hues(colour_study.dir / path) for name, path in drawn_inputs(dataset).items()}
             for dataset in (COLOUR_ARRAYS["name"], COLOUR_FOLDER["name"], "digits")}
    assert all(n >= 7 for dataset in THEIRS for n in drawn[dataset].values()), drawn
    assert all(n <= 5 for n in drawn["digits"].values()), drawn


@pytest.mark.parametrize("own", [COLOUR_ARRAYS, COLOUR_FOLDER], ids=lambda own: own["kind"])
def test_the_colour_records_say_what_the_data_is(colour_study, own):
    record = record_of(colour_study.dir, own["name"])
    assert record["input_shape"] == [3, HEIGHT, WIDTH]
    assert record["classes"] == (list(make.DIGIT_NAMES) if own is COLOUR_ARRAYS else sorted(make.DIGIT_NAMES))
    assert record["points"] == {"train": 1257, "test": 540}
    assert record["smallest_class"] == {"train": 122, "test": 52}
    scaling = record["scaling"]
    if own is COLOUR_ARRAYS:
        assert scaling["kind"] == "standardize"
        np.testing.assert_allclose(scaling["mean"], colour_study.mean, rtol=1e-6)
        np.testing.assert_allclose(scaling["std"], colour_study.std, rtol=1e-6)
        assert sha256(colour_study.dir / own["path"]) in record["sources"].values()
        # The prepared inputs are the test's own scaling of the arrays.
        np.testing.assert_allclose(prepared(colour_study.dir, own["name"])["x_test"],
                                   colour_study.inputs[own["name"]]["test"].reshape(540, -1), rtol=1e-5, atol=1e-6)
    else:
        assert scaling == {"kind": "unit", "low": 0, "high": 255}
        np.testing.assert_array_equal(prepared(colour_study.dir, own["name"])["x_test"],
                                      colour_study.inputs[own["name"]]["test"].reshape(540, -1))


# --- (c) bad input, through the command a user runs ---------------------------------------------------

BAD = "own/bad.npz"


def small(n_train: int = 200, n_test: int = 100, classes: int = 2) -> dict[str, np.ndarray]:
    """A valid little arrays file's content: 4 x 4 grey images, every class in both splits (50 test
    points a class: enough for the base config's clusterings and homology)."""
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((n_train, 4, 4), dtype=np.float32), "y_train": np.arange(n_train) % classes,
            "x_test": rng.random((n_test, 4, 4), dtype=np.float32), "y_test": np.arange(n_test) % classes}


def bad_arrays(workdir: Path, **change) -> dict:
    """An arrays entry whose file is ``small()`` with ``change``d arrays."""
    path = workdir / BAD
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{**small(), **change})
    return {"name": "mine", "kind": "arrays", "path": BAD}


def nan_in_x_test(workdir):
    x_test = small()["x_test"]
    x_test[31, 1, 2] = np.nan
    return {"datasets": [bad_arrays(workdir, x_test=x_test)]}


def unreadable_image(workdir):
    split = make.Split(*(np.uint8(small()[key] * 255) if key.startswith("x") else small()[key]
                         for key in ("x_train", "y_train", "x_test", "y_test")))
    root = make.write_folder(workdir / "own/tree", split, ["a", "b"])
    (root / "test" / "b" / "0007.png").write_bytes(b"not a picture")
    return {"datasets": [{"name": "mine", "kind": "folder", "path": "own/tree", "colour": False}]}


def cnn_for_other_images(workdir):
    """A user's CNN for 3 x 11 x 13 colour images on a dataset of 4 x 4 grey ones, without input_shape."""
    # A program: where its class was defined does not matter.
    from tests.workflow.own_data.colournet import ColourNet

    network = ColourNet(HEIGHT, WIDTH).eval()
    example = torch.zeros(2, 3, HEIGHT, WIDTH)
    program = torch.export.export(network, (example,), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, workdir / "colournet.pt2")
    return {"datasets": [bad_arrays(workdir)], "widths": [],
            "external": [{"name": "theirs", "dataset": "mine", "program": "colournet.pt2", "layers": ["conv"]}]}


# id: (what the case writes and the config change, whether only a job can tell, what the one line holds)
CASES = {
    "missing-arrays-file": (lambda w: {"datasets": [{"name": "mine", "kind": "arrays", "path": "own/none.npz"}]},
                            False, ["datasets.0 (mine)", "own/none.npz does not exist", "x_train, y_train, x_test and y_test"]),
    "missing-folder": (lambda w: {"datasets": [{"name": "mine", "kind": "folder", "path": "own/none"}]},
                       False, ["datasets.0 (mine)", "folder own/none does not exist", "train/ and test/"]),
    "different-lengths": (lambda w: {"datasets": [bad_arrays(w, y_train=np.arange(199) % 2)]}, False,
                          [BAD, "200 points", "199 labels"]),
    "label-outside-the-classes": (lambda w: {"datasets": [bad_arrays(w, y_test=np.r_[np.arange(99) % 2, -1])]},
                                  False, [BAD, "y_test", "-1", "0..C-1"]),
    "labels-not-integers": (lambda w: {"datasets": [bad_arrays(w, y_test=(np.arange(100) % 2) + 0.5)]}, False,
                            [BAD, "y_test", "not integers"]),
    "class-without-test-point": (lambda w: {"datasets": [bad_arrays(w, y_train=np.arange(200) % 3)]}, False,
                                 [BAD, "class 2 has no test point"]),
    "two-datasets-of-one-name": (lambda w: {"datasets": [bad_arrays(w), bad_arrays(w)]}, False, ["datasets.1", "'mine' is given twice"]),
    "builtin-name": (lambda w: {"datasets": [{**bad_arrays(w), "name": "digits"}]}, False, ["datasets.0.name", "'digits' is a built-in"]),
    "cnn-larger-than-the-images": (lambda w: {"datasets": [bad_arrays(w)], "cnns": [{"kernel": 5}]}, False,
                                   ["cnns", "5x5 kernel", "4x4 input (mine)"]),
    "nan-in-x-test": (nan_in_x_test, True, [BAD, "x_test", "1 NaN"]),
    "unreadable-image": (unreadable_image, True, ["own/tree/test/b/0007.png", "not a readable", "replace or remove it"]),
    "cnn-that-cannot-take-the-input-shape": (cnn_for_other_images, True, ["theirs", "input_shape", "[1, 4, 4]"]),
}


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """Every case run as the user runs it, two at a time: a dry run where the config can tell, else the
    whole study; {case: (workdir, its output, its exit code)}."""
    root = tmp_path_factory.mktemp("own_bad")

    def one(case):
        write, at_job_time, _ = CASES[case]
        workdir = root / case
        workdir.mkdir()
        config = merged(BASE, write(workdir))
        if at_job_time:
            done = reliability.run(reliability.prepare(workdir, config), cores=1, check=False)
        else:
            done = dry_run(workdir, config)
        return case, (workdir, done.stdout + done.stderr, done.returncode)

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, CASES))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_stops_with_one_line(refused, case):
    workdir, output, code = refused[case]
    _, at_job_time, parts = CASES[case]
    assert code != 0, f"{case} was accepted:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
    if at_job_time:  # the job's one line (its log echoes it), and nothing half-written
        messages = {line.split("ERROR: ", 1)[1] for line in output.splitlines() if "ERROR: " in line}
        assert not list(workdir.rglob("activations.h5")) and not reliability.leftovers(workdir)
        if case != "cnn-that-cannot-take-the-input-shape":  # there the data was good and is kept
            assert not list(workdir.rglob("data.h5")) and not list(workdir.rglob("dataset.json"))
    else:  # told before any job: none planned, nothing written
        messages = {line.removeprefix("Config error: ") for line in output.splitlines()
                    if line.startswith("Config error:")}
        assert "rule " not in output and not (workdir / paths.RESULTS).exists()
    assert len(messages) == 1, output[-3000:]
    message = messages.pop()
    assert all(part in message for part in parts), (parts, message)


def test_the_cifar10_example_plans_its_study(tmp_path):
    """configs/own_data_cifar10.yaml, as the guide gives it: accepted without the files (torchvision will
    download them), its dataset prepared first, then its networks trained on it."""
    import yaml

    from tests.conftest import ROOT

    run = dry_run(tmp_path, yaml.safe_load((ROOT / "configs" / "own_data_cifar10.yaml").read_text()))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "rule dataset_data" in output and "dataset=cifar10" in output
    assert {"mlp1024-none-s0", "cnn32x64-d128-none-s0"} <= set(re.findall(r"model=([\w-]+)", output))
