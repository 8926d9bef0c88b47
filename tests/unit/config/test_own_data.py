"""The config's datasets of the user's own (kinds torchvision, folder, arrays) and the analysed points
(analysis.split, analysis.points): the schema's keys and defaults, the one-line messages of what is
refused when the workflow loads, where a dataset's facts come from (its fresh record, else what
nntopo.data.sources.peek reads from its files' headers), the checks that need those facts
(check_known), and the dry run of a study of an arrays file."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml

from nntopo import config, datasets
from nntopo.config import ConfigError
from tests.conftest import ROOT


def arrays_file(path, x_train, y_train, x_test, y_test):
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def colour_images(tmp_path, n_train=60, n_test=30, classes=3, side=6):
    """An arrays file of colour images (N x 3 x side x side), labels cycling through the classes."""
    rng = np.random.default_rng(0)
    return arrays_file(tmp_path / "colour.npz", rng.random((n_train, 3, side, side), dtype=np.float32),
                       np.arange(n_train) % classes, rng.random((n_test, 3, side, side), dtype=np.float32),
                       np.arange(n_test) % classes)


def points_file(tmp_path, dims=5):
    rng = np.random.default_rng(1)
    return arrays_file(tmp_path / "points.npz", rng.normal(size=(40, dims)), np.arange(40) % 2,
                       rng.normal(size=(20, dims)), np.arange(20) % 2)


def image_tree(root, size=(5, 7), classes=("cat", "dog")):
    """A folder dataset of PNG images: train/ and test/, two images of each class in each."""
    from PIL import Image

    for split in ("train", "test"):
        for label, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(2):
                pixels = np.full((*size, 3), 40 * label + 10 * i, dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return str(root)


def small(datasets_, **more):
    """A small valid study of ``datasets_``: one MLP of 4 units, k-means of 3 clusters."""
    return {"datasets": datasets_, "widths": [4], "regularizations": ["none"], "clustering": {
        "methods": ["kmeans"], "top_k": 2, "kmeans": {"n_clusters": 3}}, **more}


def refused(cfg) -> str:
    with pytest.raises(ConfigError) as error:
        config.validate(cfg)
    message = str(error.value)
    assert "\n" not in message
    return message


# --- the schema --------------------------------------------------------------------------------------------


def test_each_kind_takes_its_keys_with_their_defaults(tmp_path):
    folder = image_tree(tmp_path / "tree")
    c = config.validate(small(["digits",
                               {"name": "cifar", "kind": "torchvision", "class": "CIFAR10"},
                               {"name": "tree", "kind": "folder", "path": folder},
                               {"name": "mine", "kind": "arrays", "path": colour_images(tmp_path),
                                "scaling": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}]))
    assert c["datasets"] == [
        "digits",
        {"name": "cifar", "kind": "torchvision", "class": "CIFAR10", "options": {}, "scaling": "unit"},
        {"name": "tree", "kind": "folder", "path": folder, "size": None, "colour": True, "scaling": "unit"},
        {"name": "mine", "kind": "arrays", "path": str(tmp_path / "colour.npz"), "channels_last": False,
         "scaling": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}, "task": "classification", "level_sets": 10},
    ]
    assert config.dataset_names(c) == datasets.names(c) == ("digits", "cifar", "tree", "mine")
    assert config.user_datasets(c) == ("cifar", "tree", "mine")
    assert [config.is_prepared(c, name) for name in config.dataset_names(c)] == [False, True, True, True]
    # The preparing job's params: the entry with its defaults (its record keeps it to be compared).
    assert config.dataset_slice(c, "tree") == c["datasets"][2] and config.dataset_slice(c, "tree") is not c["datasets"][2]
    with pytest.raises(ConfigError, match="no dataset of your own is named 'digits'; yours: cifar, tree, mine"):
        config.dataset_slice(c, "digits")


def test_the_analysed_points_default_to_the_whole_test_set():
    c = config.validate({})
    assert {key: c["analysis"][key] for key in ("split", "points", "points_seed")} == {
        "split": "test", "points": None, "points_seed": 0}
    assert config.points_slice(c) == {"split": "test", "points": None, "seed": 0}
    assert config.n_points(c, "mnist") == config.n_test_points(c, "mnist") == 10_000
    assert config.smallest_class(c, "mnist") == 892  # digit 5's test images


def test_the_analysed_points_follow_split_and_subsample():
    train = config.validate({"analysis": {"split": "train"}})
    assert config.n_points(train, "mnist") == 60_000 and config.smallest_class(train, "mnist") == 5421
    sub = config.validate({"analysis": {"split": "train", "points": 6000, "points_seed": 3}})
    assert config.points_slice(sub) == {"split": "train", "points": 6000, "seed": 3}
    assert config.n_points(sub, "mnist") == 6000
    # A subsample's smallest class is expected, not known: 5,421 x 6,000 / 60,000, rounded down.
    assert config.smallest_class(sub, "mnist") == 542
    assert config.describe_points(sub, datasets.get("mnist")) == "the 6,000 analysed points of the mnist train set"
    more = config.validate({"datasets": ["digits"], "analysis": {"points": 100_000}})  # more than there are: all
    assert config.n_points(more, "digits") == 540 and config.smallest_class(more, "digits") == 52
    shapes = config.validate({"datasets": ["disks"], "analysis": {"split": "train"}, "shapes": {"train_points": 400}})
    assert config.n_points(shapes, "disks") == 400 and config.smallest_class(shapes, "disks") == 200


@pytest.mark.parametrize("bad, message", [
    ({"datasets": ["cifar10"]}, "datasets.0: 'cifar10' is not allowed; choose one of: mnist, fashion_mnist, digits, "
                                "disks, tori, spheres; or describe your own dataset as a mapping with a name and a kind "
                                "(torchvision, folder or arrays; docs/guides/own-data.md)"),
    ({"datasets": [{"name": "mine", "kind": "arrays", "pth": "a.npz"}]},
     "unknown key 'pth' in datasets.0; allowed keys: channels_last, kind, level_sets, name, path, scaling, task"),
    ({"datasets": [{"name": "cifar", "kind": "torchvision", "klass": "CIFAR10"}]},
     "unknown key 'klass' in datasets.0; allowed keys: class, kind, name, options, scaling"),
    ({"datasets": [{"name": "tree", "kind": "folder", "path": "t", "channels_last": True}]},
     "unknown key 'channels_last' in datasets.0; allowed keys: colour, kind, name, path, scaling, size"),
    ({"datasets": [{"name": "mine", "path": "a.npz"}]}, "datasets.0: 'kind' is a required property"),
    ({"datasets": [{"name": "mine", "kind": "numpy", "path": "a.npz"}]},
     "datasets.0.kind: 'numpy' is not allowed; choose one of: torchvision, folder, arrays"),
    ({"datasets": [{"name": "Mine-1", "kind": "arrays", "path": "a.npz"}]},
     "datasets.0.name: 'Mine-1' does not match '^[a-z][a-z0-9_]*$'"),
    ({"datasets": [{"name": "mine", "kind": "arrays", "path": "a.npz", "scaling": "unity"}]},
     "datasets.0.scaling: 'unity' is not allowed; expected unit, standardize, none or a mapping with mean, std"),
    ({"datasets": [{"name": "mine", "kind": "arrays", "path": "a.npz", "scaling": {"mean": [0.5], "std": [0]}}]},
     "datasets.0.scaling.std.0: 0 is less than or equal to the minimum of 0"),
    ({"datasets": [{"name": "tree", "kind": "folder", "path": "t", "size": [32]}]}, "datasets.0.size: [32] is too short"),
    ({"analysis": {"split": "validation"}}, "analysis.split: 'validation' is not allowed; choose one of: test, train"),
    ({"analysis": {"points": "half"}}, "analysis.points: 'half' is not allowed; expected null or an integer of at least 2"),
    ({"analysis": {"points": 1}}, "analysis.points: 1 is less than the minimum of 2"),
    ({"analysis": {"points_seed": -1}}, "analysis.points_seed: -1 is less than the minimum of 0"),
])
def test_a_bad_entry_or_key_is_one_line_naming_it(bad, message):
    assert refused(bad) == message


# --- each entry, when the workflow loads ------------------------------------------------------------------


def test_names_are_each_datasets_own(tmp_path):
    path = colour_images(tmp_path)
    mine = {"name": "mine", "kind": "arrays", "path": path}
    assert refused(small(["digits", "digits"])) == ("datasets.1: 'digits' is given twice (datasets.0 and datasets.1); "
                                                     "give each dataset once, and each of your own a name of its own")
    assert refused(small([mine, "digits", {**mine, "channels_last": True}])).startswith(
        "datasets.2: 'mine' is given twice (datasets.0 and datasets.2)")
    assert refused(small([{**mine, "name": "mnist"}])) == (
        "datasets.0.name: 'mnist' is a built-in dataset's name; give your own dataset another name (e.g. my_mnist)")
    assert refused(small([{**mine, "name": "logs"}])) == (
        "datasets.0.name: 'logs' is the name of a results folder (logs, benchmarks, summary); choose another name")


def test_a_missing_file_or_folder_says_what_is_expected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cwd = os.getcwd()
    assert refused(small([{"name": "mine", "kind": "arrays", "path": "no/mine.npz"}])) == (
        f"datasets.0 (mine): no/mine.npz does not exist (paths are relative to the folder snakemake runs in, {cwd}); "
        "give a .npz, .h5 or .hdf5 file holding x_train, y_train, x_test and y_test (labels 0..C-1)")
    assert refused(small([{"name": "mine", "kind": "arrays", "path": "mine.csv"}])) == (
        "datasets.0 (mine): mine.csv is not a .npz, .h5 or .hdf5 file; give a .npz, .h5 or .hdf5 file holding x_train, "
        "y_train, x_test and y_test (labels 0..C-1) (numpy.savez or h5py writes one)")
    assert refused(small([{"name": "tree", "kind": "folder", "path": "pictures"}])) == (
        f"datasets.0 (tree): folder pictures does not exist (paths are relative to the folder snakemake runs in, {cwd}); "
        "give a folder holding train/ and test/, each with one subfolder of PNG or JPEG images per class")
    (tmp_path / "pictures").write_text("not a folder")
    assert "pictures is a file, not a folder" in refused(small([{"name": "tree", "kind": "folder", "path": "pictures"}]))


def test_a_torchvision_class_is_checked_against_torchvision():
    pytest.importorskip("torchvision")

    def entry(**keys):
        return small([{"name": "theirs", "kind": "torchvision", **keys}])

    assert refused(entry(**{"class": "Cifar10"})) == (
        "datasets.0 (theirs): torchvision.datasets has no dataset class 'Cifar10'; did you mean CIFAR10, CIFAR100?")
    assert refused(entry(**{"class": "Nothing"})) == (
        "datasets.0 (theirs): torchvision.datasets has no dataset class 'Nothing'; see torchvision.datasets for its classes")
    assert refused(entry(**{"class": "ImageFolder"})).startswith(
        "datasets.0 (theirs): torchvision.datasets.ImageFolder takes no train/test switch (train= or split=)")
    assert refused(entry(**{"class": "CIFAR10", "options": {"root": "x"}})) == (
        "datasets.0 (theirs): options sets root, which nntopo sets itself (data_dir, each split in turn, download); "
        "remove it")
    assert refused(entry(**{"class": "CIFAR10", "options": {"colour": True}})).startswith(
        "datasets.0 (theirs): options 'colour' is not an argument of torchvision.datasets.CIFAR10; its arguments: root, "
        "train")
    # Accepted: a class with its switch, or one whose options go on to its base class (EMNIST's split).
    config.validate(entry(**{"class": "SVHN"}))
    config.validate(entry(**{"class": "EMNIST", "options": {"split": "balanced"}}))


def test_scaling_gives_a_mean_and_a_deviation_per_channel(tmp_path):
    mine = {"name": "mine", "kind": "arrays", "path": colour_images(tmp_path)}
    assert refused(small([{**mine, "scaling": {"mean": [0.5, 0.5], "std": [0.2]}}])) == (
        "datasets.0 (mine): scaling gives 2 means but 1 standard deviations; give one of each per channel")
    # Known from the file's header: 3 channels.
    assert refused(small([{**mine, "scaling": {"mean": [0.5], "std": [0.2]}}])) == (
        "datasets.0 (mine): scaling gives 1 means and standard deviations, but its images have 3 channels; give one "
        "of each per channel")


def test_the_data_folder_is_checked_for_a_torchvision_dataset(tmp_path, monkeypatch):
    monkeypatch.delenv(config.DATA_DIR_ENV, raising=False)
    missing = str(tmp_path / "nowhere")
    c = {"datasets": [{"name": "theirs", "kind": "torchvision", "class": "CIFAR10", "options": {}, "scaling": "unit"}],
         "data_dir": missing, "download": False}
    with pytest.raises(ConfigError) as error:
        config.check_data_dir(c)
    assert str(error.value) == (
        f"data_dir: {missing!r} does not exist and download is false, so nothing would fill it (datasets: theirs); "
        "give the root folder of torchvision's CIFAR10 (the layout torchvision reads and downloads), or set download: true")
    config.check_data_dir({**c, "download": True})  # the download makes it


def test_an_external_network_may_read_a_dataset_of_ones_own(tmp_path):
    mine = {"name": "mine", "kind": "arrays", "path": colour_images(tmp_path)}
    net = {"name": "theirs", "dataset": "mine", "module": "tests.conftest:Net", "state_dict": str(tmp_path / "w.pt"),
           "layers": ["fc"]}
    assert "external.0 (theirs): dataset mine is not in datasets (digits); add it there" == refused(
        small(["digits"], external=[net]))
    # Its input_shape against the dataset's 3 x 6 x 6 inputs (known from the file's header), once the file is there.
    import zipfile

    with zipfile.ZipFile(tmp_path / "w.pt", "w") as archive:  # torch.save's format is a zip archive
        archive.writestr("w/data.pkl", b"")
    assert refused(small([mine], external=[{**net, "input_shape": [3, 6, 5]}])) == (
        "external.0 (theirs): input_shape [3, 6, 5] holds 90 values, but a mine input has 108; give a shape of 108 "
        "values, or leave it out to use the dataset's [3, 6, 6]")
    config.validate(small([mine], external=[{**net, "input_shape": [3, 6, 6]}]))


# --- where a user's dataset's facts come from ---------------------------------------------------------------


def test_peek_tells_an_arrays_datasets_facts_before_it_is_prepared(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = config.validate(small([{"name": "mine", "kind": "arrays", "path": colour_images(tmp_path)}]))
    info = datasets.get("mine", c)
    assert info.input_shape == (3, 6, 6) and info.classes == ("0", "1", "2") and info.has_images
    assert info.points == {"train": 60, "test": 30} and info.smallest_class == {"train": 20, "test": 10}
    assert config.n_points(c, "mine") == 30 and config.has_images(c, "mine")
    points = config.validate(small([{"name": "cloud", "kind": "arrays", "path": points_file(tmp_path)}]))
    assert datasets.get("cloud", points).input_shape == (5,) and not config.has_images(points, "cloud")
    tree = config.validate(small([{"name": "tree", "kind": "folder", "path": image_tree(tmp_path / "tree"),
                                   "colour": False}]))
    info = datasets.get("tree", tree)  # grey images of the files' own 5 x 7 pixels
    assert info.input_shape == (1, 5, 7) and info.classes == ("cat", "dog") and info.points == {"train": 4, "test": 4}
    folder_missing_test = tmp_path / "half"
    image_tree(folder_missing_test)
    for image in (folder_missing_test / "test" / "dog").iterdir():
        image.unlink()
    message = refused(small([{"name": "half", "kind": "folder", "path": str(folder_missing_test)}]))
    assert message.startswith(f"datasets.0 (half): {folder_missing_test / 'test'}: class 1 ('dog') has no test point")


def test_a_problem_peek_finds_is_a_config_error_naming_the_entry(tmp_path):
    rng = np.random.default_rng(0)
    path = arrays_file(tmp_path / "gap.npz", rng.random((6, 4)), np.array([0, 1, 2, 0, 1, 2]), rng.random((3, 4)),
                       np.array([0, 1, 1]))  # class 2 has no test point
    message = refused(small([{"name": "gap", "kind": "arrays", "path": path}]))
    assert message.startswith(f"datasets.0 (gap): {path}: ") and "no test point" in message


def record_of(entry, input_shape, points, smallest, classes=("a", "b")):
    """A prepared record in the layout prepare writes (common.md: dataset.json)."""
    return {"entry": entry, "input_shape": list(input_shape), "classes": list(classes), "points": points,
            "smallest_class": smallest, "scaling": {"kind": "unit", "low": 0, "high": 255}, "sources": {},
            "versions": {}}


def write_record(name, record, mtime=None):
    path = datasets.record_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return path


def test_a_fresh_record_gives_the_facts_a_stale_one_does_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = config.validate(small([{"name": "theirs", "kind": "torchvision", "class": "CIFAR10"}]))
    entry = c["datasets"][0]
    assert not datasets.get("theirs", c).known and config.n_points(c, "theirs") is None  # not prepared: unknown
    assert config.has_images(c, "theirs")  # a torchvision dataset always has images
    write_record("theirs", record_of(entry, (3, 32, 32), {"train": 500, "test": 100}, {"train": 40, "test": 7},
                                     classes=tuple("abcdefghij")))
    info = datasets.get("theirs", c)
    assert info.input_shape == (3, 32, 32) and info.points == {"train": 500, "test": 100} and len(info.classes) == 10
    assert config.n_points(c, "theirs") == 100 and config.smallest_class(c, "theirs") == 7
    # Prepared from another entry (its options changed): stale, so unknown until prepared again.
    changed = config.validate(small([{**entry, "options": {"transform": None}}]))
    assert not datasets.get("theirs", changed).known


def test_a_record_older_than_its_file_is_stale_and_peek_tells_the_new_facts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = colour_images(tmp_path)  # 60 and 30 points of 3 x 6 x 6
    c = config.validate(small([{"name": "mine", "kind": "arrays", "path": path}]))
    old = os.stat(path).st_mtime_ns
    write_record("mine", record_of(c["datasets"][0], (3, 6, 6), {"train": 61, "test": 31}, {"train": 20, "test": 11}),
                 mtime=old + 10**9)
    assert datasets.get("mine", c).points == {"train": 61, "test": 31}  # the record, fresh: not the file's counts
    os.utime(path, ns=(old + 2 * 10**9, old + 2 * 10**9))  # the file changed after it was prepared
    assert datasets.get("mine", c).points == {"train": 60, "test": 30}  # peek's


# --- the checks that need a dataset's facts -----------------------------------------------------------------


def test_check_known_runs_every_check_on_the_facts_it_is_given(tmp_path, monkeypatch):
    """What the preparing job does: the config as it was loaded (the dataset unknown then), and the
    facts just found."""
    monkeypatch.chdir(tmp_path)
    c = config.validate(small([{"name": "theirs", "kind": "torchvision", "class": "CIFAR10"}], cnns=[{"kernel": 5}],
                              homology={"points_per_class": 50}))
    entry = c["datasets"][0]

    def facts(shape, test_points=100, smallest=60):
        return datasets.from_record(entry, record_of(entry, shape, {"train": 200, "test": test_points},
                                                      {"train": 100, "test": smallest}))

    config.check_known(c, datasets.from_record(entry, None))  # unknown: nothing to check yet
    config.check_known(c, facts((3, 32, 32)))
    with pytest.raises(ConfigError, match=r"^cnns: the 5x5 kernel of convolutional layer 1 is larger than its 4x4 input "
                                          r"\(theirs\)"):
        config.check_known(c, facts((3, 4, 4)))
    with pytest.raises(ConfigError, match=r"^cnns: theirs has no images \(its points are 7-D\)"):
        config.check_known(c, facts((7,)))
    with pytest.raises(ConfigError, match=r"^clustering\.kmeans: n_clusters is 3.* at most 2 \(the theirs test set\)"):
        config.check_known(c, facts((3, 32, 32), test_points=2, smallest=1))
    with pytest.raises(ConfigError, match=r"^homology\.points_per_class: 50 is more than the 30 test points of the "
                                          r"smallest theirs class; use at most 30, or null for every point$"):
        config.check_known(c, facts((3, 32, 32), smallest=30))


def test_check_known_reads_the_analysed_points(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = config.validate(small([{"name": "theirs", "kind": "torchvision", "class": "CIFAR10"}],
                              analysis={"split": "train", "points": 1000}, homology={"points_per_class": 90}))
    entry = c["datasets"][0]
    info = datasets.from_record(entry, record_of(entry, (3, 32, 32), {"train": 5000, "test": 1000},
                                                 {"train": 400, "test": 100}))
    # 1,000 of 5,000 training points: 400 x 1,000 / 5,000 = 80 expected of the smallest class.
    with pytest.raises(ConfigError) as error:
        config.check_known(c, info)
    assert str(error.value) == ("homology.points_per_class: 90 is more than the 80 points expected of the smallest "
                                "theirs class in the 1,000 analysed points of the theirs train set; use at most 80, or "
                                "null for every point")


def test_a_user_dataset_known_at_load_is_checked_at_load(tmp_path):
    mine = {"name": "mine", "kind": "arrays", "path": colour_images(tmp_path, side=6)}
    assert refused(small([mine], cnns=[{"kernel": 7}])).startswith(
        "cnns: the 7x7 kernel of convolutional layer 1 is larger than its 6x6 input (mine)")
    assert refused(small([mine], clustering={"methods": ["kmeans"], "top_k": 2, "kmeans": {"n_clusters": 31}})) == (
        "clustering.kmeans: n_clusters is 31, but there are only 30 points to cluster; use at most 30 (the mine test set)")


def test_has_images_is_known_when_the_workflow_loads(tmp_path):
    c = config.validate(small(["mnist", "disks", {"name": "theirs", "kind": "torchvision", "class": "CIFAR10"},
                               {"name": "cloud", "kind": "arrays", "path": points_file(tmp_path)}]))
    assert [config.has_images(c, name) for name in config.dataset_names(c)] == [True, False, True, False]


# --- the workflow -------------------------------------------------------------------------------------------


def dry_run(workdir, cfg):
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = {key: value for key, value in os.environ.items() if key != config.DATA_DIR_ENV}
    return subprocess.run([sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
                           "--configfile", str(workdir / "config.yaml"), "--cores", "1", "-n"],
                          capture_output=True, text=True, env=env, timeout=300)


def jobs(output: str) -> list[dict]:
    """The dry run's jobs in the order it lists them: rule, and each field (input, output, wildcards,
    resources) as its text."""
    found = []
    for block in re.split(r"\n\s*\n", output):
        lines = [line.strip() for line in block.splitlines()]
        rule = next((line[len("rule "):-1] for line in lines if re.fullmatch(r"(local)?rule \S+:", line)), None)
        if rule:
            found.append({"rule": rule, **{line.split(":")[0]: line.partition(": ")[2] for line in lines if ": " in line}})
    return found


def test_a_study_of_an_arrays_file_prepares_it_before_training_on_it(tmp_path):
    path = colour_images(tmp_path, side=8)
    run = dry_run(tmp_path, small(["digits", {"name": "mine", "kind": "arrays", "path": path}],
                                  cnns=[{"channels": [4], "dense": []}], training={"epochs": 1}, device="cpu"))
    assert run.returncode == 0, run.stderr[-3000:]
    listed = jobs(run.stdout + run.stderr)
    prepare = [i for i, job in enumerate(listed) if job["rule"] == "dataset_data"]
    assert len(prepare) == 1, "one preparing job: the arrays dataset's alone (digits is built in)"
    job = listed[prepare[0]]
    assert job["output"] == "results/mine/data.h5, results/mine/dataset.json" and job["input"] == path
    assert job["wildcards"] == "dataset=mine"
    assert "mem_mb=1000," in job["resources"]  # 1000 MB and the 60 x 3 x 8 x 8 float32 training split's 0.04 MB
    trained = [i for i, job in enumerate(listed) if job["rule"] == "train" and "dataset=mine" in job["wildcards"]]
    assert len(trained) == 2 and min(trained) > prepare[0]  # the MLP and the CNN, listed after it
    assert all("results/mine/data.h5" in listed[i]["input"] for i in trained)
    assert not any(job["rule"] == "shape_data" for job in listed)


def test_analysing_mnists_training_split_asks_for_more_memory(tmp_path):
    asks = {}
    for split in ("test", "train"):
        (tmp_path / split).mkdir()
        run = dry_run(tmp_path / split, small(["mnist"], analysis={"split": split}))
        assert run.returncode == 0, run.stderr[-3000:]
        asks[split] = {job["rule"]: job["resources"] for job in jobs(run.stdout + run.stderr)}
    # As measured at 10,000 points; the 4 GiB budget at 60,000 (rules/common.smk, points_mb).
    assert "mem_mb=1000," in asks["test"]["cluster"] and "runtime=5," in asks["test"]["cluster"]
    assert "mem_mb=4000," in asks["train"]["cluster"] and "runtime=30," in asks["train"]["cluster"]
    assert "mem_mb=2000," in asks["test"]["train"] and "mem_mb=3000," in asks["train"]["train"]


def test_a_bad_arrays_file_stops_the_dry_run_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    path = arrays_file(tmp_path / "short.npz", rng.random((6, 4)), np.arange(5) % 2, rng.random((3, 4)),
                       np.arange(3) % 2)  # 6 inputs, 5 labels
    run = dry_run(tmp_path, small([{"name": "short", "kind": "arrays", "path": path}]))
    output = run.stdout + run.stderr
    errors = [line for line in output.splitlines() if line.startswith("Config error:")]
    assert run.returncode != 0 and len(errors) == 1 and "Traceback" not in output, output[-3000:]
    assert errors[0].startswith(f"Config error: datasets.0 (short): {path}: ")
    assert not (tmp_path / "results").exists()
