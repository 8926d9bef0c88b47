"""Malformed configs stop `snakemake -n` before any job, with one line naming the key and what is allowed.

Every case is refused by the checks the Snakefile runs first (rules/setup.smk: ``validate``, then
``check_data_dir``), in-process, in its own empty working directory, and its message must name the key
and the allowed values. A case of each kind of check also goes through a real `snakemake -n`
subprocess (two at a time in a module fixture): the exit code is not 0, exactly one line starts with
"Config error:" and holds the message, no Python traceback reaches the user, no job is planned and no
results folder is created. (Each subprocess costs ~3 s of Snakemake's start; every case through it
cost CI two minutes for no behaviour the representatives do not show.)
"""

import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.conftest import ROOT

# A valid base (digits: no data files needed); each case changes it.
BASE = {
    "datasets": ["digits"],
    "widths": [16],
    "regularizations": ["none"],
    "training": {"epochs": 1, "batch_size": 64, "lr": 0.005},
    "device": "cpu",
    "clustering": {"methods": ["kmeans", "umap"], "top_k": 5},
}


def merged(base: dict, change: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


NOWHERE = "no/such/folder"
# id: (change to BASE, environment, substrings the message must hold: the key, then what is allowed)
CASES = {
    # unknown keys
    "unknown-top-key": ({"epochs": 3}, {}, ["unknown key 'epochs'", "allowed keys:", "training"]),
    "unknown-training-key": ({"training": {"epoch": 3}}, {}, ["unknown key 'epoch' in training", "epochs"]),
    "unknown-preset-key": ({"regularization": {"l2": {"strenght": 1e-4}}}, {},
                           ["unknown key 'strenght' in regularization.l2", "strength"]),
    "unknown-figures-key": ({"figures": {"colour": "red"}}, {}, ["unknown key 'colour' in figures", "top"]),
    "unknown-method-parameter": ({"clustering": {"kmeans": {"k": 5}}}, {},
                                 ["clustering.kmeans", "no parameter 'k'", "n_clusters, n_init"]),
    # wrong types
    "lr-is-a-word": ({"training": {"lr": "fast"}}, {}, ["training.lr", "number"]),
    "epochs-not-integer": ({"training": {"epochs": 2.5}}, {}, ["training.epochs", "integer"]),
    "datasets-not-a-list": ({"datasets": "digits"}, {}, ["datasets", "array"]),
    "download-not-boolean": ({"download": "yes"}, {}, ["download", "boolean"]),
    "method-parameter-type": ({"clustering": {"umap": {"n_neighbors": "many"}}}, {},
                              ["clustering.umap", "n_neighbors", "int"]),
    # widths
    "zero-width": ({"widths": [0]}, {}, ["widths.0", "minimum of 1"]),
    "negative-width-in-stack": ({"widths": [[16, -4]]}, {}, ["widths.0.1", "minimum of 1"]),
    "width-is-a-word": ({"widths": ["wide"]}, {}, ["widths.0", "positive integer"]),
    "duplicate-widths": ({"widths": [16, 16]}, {}, ["widths", "non-unique"]),
    # empty grids
    "no-widths": ({"widths": []}, {}, ["widths, cnns and external are all empty"]),
    "no-seeds": ({"seeds": []}, {}, ["seeds", "non-empty"]),
    # networks the user brings (tests/unit/network/test_external.py has the rest)
    "external-file-missing": ({"external": [{"name": "mine", "dataset": "digits", "module": "mine:Net",
                                             "state_dict": "nowhere/mine.pt", "layers": ["fc1"]}]}, {},
                              ["external.0 (mine)", "nowhere/mine.pt does not exist"]),
    "external-name-with-hyphen": ({"external": [{"name": "my-net", "dataset": "digits", "activations": "a.h5"}]}, {},
                                  ["external.0.name", "does not match"]),
    "no-datasets": ({"datasets": []}, {}, ["datasets", "non-empty"]),
    # unknown names
    "unknown-dataset": ({"datasets": ["mnsit"]}, {}, ["datasets.0", "choose one of: mnist, fashion_mnist, digits"]),
    "unknown-regularization": ({"regularizations": ["l3"]}, {}, ["regularizations.0", "none, l2, l1, dropout"]),
    "unknown-method": ({"clustering": {"methods": ["kmeans", "dbscan"]}}, {},
                       ["clustering.methods", "'dbscan'", "kmeans", "mapper"]),
    "unknown-clusterer": ({"clustering": {"umap": {"clusterer": {"name": "dbscan"}}}}, {},
                          ["clustering.umap", "'dbscan'", "hdbscan"]),
    "unknown-mapper-lens": ({"clustering": {"methods": ["mapper"], "mapper": {"lens": "tsne"}}}, {},
                            ["clustering.mapper", "lens 'tsne'", "pca, norm_max"]),
    "unknown-umap-metric": ({"clustering": {"umap": {"metric": "euclidian"}}}, {},
                            ["clustering.umap", "metric 'euclidian'", "euclidean"]),
    "unknown-device": ({"device": "tpu"}, {}, ["device", "choose one of: auto, cpu, cuda"]),
    "unknown-activation": ({"activations": ["relu", "gelu"]}, {}, ["activations.1", "relu, tanh, leaky_relu"]),
    "unknown-layer-choice": ({"analysis": {"layers": "first"}}, {}, ["analysis.layers", "'first'"]),
    "old-clustering-layer-key": ({"clustering": {"space": "hidden"}}, {}, ["clustering.space", "type 'object'"]),
    "embedding-without-one": ({"figures": {"embedding": "kmeans"}}, {}, ["figures.embedding", "tsne, umap, mapper"]),
    # values out of range
    "zero-epochs": ({"training": {"epochs": 0}}, {}, ["training.epochs", "minimum of 1"]),
    "negative-seed": ({"seeds": [-1]}, {}, ["seeds.0", "minimum of 0"]),
    "seed-too-large": ({"seeds": [2**33]}, {}, ["seeds.0", "maximum of 4294967295"]),
    "zero-l2-strength": ({"regularizations": ["l2"], "regularization": {"l2": {"strength": 0}}}, {},
                         ["regularization.l2.strength", "0"]),
    "dropout-one": ({"regularization": {"dropout": {"p": 1.0}}}, {}, ["regularization.dropout.p", "1"]),
    "nan-learning-rate": ({"training": {"lr": float("nan")}}, {}, ["training.lr", "nan", "finite number"]),
    "infinite-strength": ({"regularization": {"l1": {"strength": float("inf")}}}, {},
                          ["regularization.l1.strength", "inf", "finite number"]),
    "tsne-short-run": ({"clustering": {"methods": ["tsne"], "tsne": {"max_iter": 100}}}, {},
                       ["clustering.tsne", "max_iter", "at least 250"]),
    # impossible cluster counts
    "zero-clusters": ({"clustering": {"kmeans": {"n_clusters": 0}}}, {}, ["clustering.kmeans", "n_clusters", "at least 1"]),
    "more-clusters-than-points": ({"clustering": {"kmeans": {"n_clusters": 1000}}}, {},
                                  ["clustering.kmeans", "n_clusters is 1000", "at most 540"]),
    "hdbscan-larger-than-data": ({"clustering": {"umap": {"clusterer": {"name": "hdbscan", "min_cluster_size": 600}}}},
                                 {}, ["clustering.umap", "min_cluster_size is 600", "at most 540"]),
    "hdbscan-size-one": ({"clustering": {"umap": {"clusterer": {"name": "hdbscan", "min_cluster_size": 1}}}}, {},
                         ["clustering.umap", "min_cluster_size", "at least 2"]),
    # what the ranking needs of the architecture
    "top-k-above-width": ({"clustering": {"top_k": 17}}, {}, ["clustering.top_k", "17", "at most 16"]),
    "layer-too-deep": ({"analysis": {"layers": [1, 2]}}, {}, ["analysis.layers", "hidden layer 2", "numbers up to 1"]),
    "zero-leaky-slope": ({"activation": {"leaky_relu": {"slope": 0}}}, {}, ["activation.leaky_relu.slope", "0"]),
    "negative-leaky-slope": ({"activation": {"leaky_relu": {"slope": -0.1}}}, {}, ["activation.leaky_relu.slope", "-0.1"]),
    # convolutional networks (digits' images are 8x8)
    "cnn-kernel-larger-than-image": ({"cnns": [{"kernel": 9}]}, {}, ["cnns", "9x9 kernel", "larger than its 8x8 input"]),
    "cnn-pooling-below-one-pixel": ({"cnns": [{"channels": [6], "pool": 7}]}, {}, ["pooling of 7", "6x6 maps below 1x1"]),
    "cnn-zero-channels": ({"cnns": [{"channels": [0]}]}, {}, ["cnns.0.channels.0", "minimum of 1"]),
    "cnn-top-k-above-channels": ({"cnns": [{"channels": [4], "pool": 1}], "clustering": {"top_k": 5}}, {},
                                 ["clustering.top_k", "5 is more than the 4 channels of hidden layer 1"]),
    "cnn-layer-too-deep": ({"widths": [[16, 16]], "cnns": [{"channels": [4], "pool": 1, "dense": []}],
                            "analysis": {"layers": [2]}}, {},
                           ["analysis.layers", "hidden layer 2", "CNN of channels [4]"]),
    "cnn-on-points": ({"datasets": ["disks"], "cnns": [{}]}, {}, ["cnns", "disks has no images"]),
    # neural persistence and early stopping
    "np-p-zero": ({"neural_persistence": {"p": 0}}, {}, ["neural_persistence.p", "0"]),
    "np-p-negative": ({"neural_persistence": {"p": -2}}, {}, ["neural_persistence.p", "-2"]),
    "patience-zero": ({"training": {"early_stopping": {"patience": 0}}}, {}, ["training.early_stopping.patience", "minimum of 1"]),
    "validation-split-zero": ({"training": {"validation_split": 0}}, {}, ["training.validation_split", "0"]),
    "validation-split-above-half": ({"training": {"validation_split": 0.6}}, {}, ["training.validation_split", "maximum of 0.5"]),
    "early-stopping-without-validation": ({"training": {"early_stopping": {"criterion": "validation_loss"}}}, {},
                                          ["training.early_stopping.criterion", "validation_split"]),
    "np-early-stopping-without-validation": ({"training": {"early_stopping": {"criterion": "neural_persistence"}}}, {},
                                             ["training.early_stopping.criterion", "validation_split"]),
    "batchnorm-batch-of-one": ({"regularizations": ["batchnorm"], "training": {"batch_size": 1}}, {},
                               ["training.batch_size", "batchnorm", "at least 2"]),
    "unknown-criterion": ({"training": {"early_stopping": {"criterion": "accuracy"}}}, {},
                          ["training.early_stopping.criterion", "null, validation_loss, neural_persistence"]),
    # the data directory
    "missing-data-dir-no-download": ({"datasets": ["mnist"], "download": False, "data_dir": NOWHERE}, {},
                                     ["data_dir", NOWHERE, "does not exist", "download: true"]),
    "env-data-dir-missing": ({"datasets": ["fashion_mnist"]}, {"NNTOPO_DATA_DIR": NOWHERE},
                             ["NNTOPO_DATA_DIR", NOWHERE, "does not exist"]),
    "data-dir-is-a-file": ({"datasets": ["mnist"], "data_dir": "config.yaml"}, {},
                           ["data_dir", "is a file, not a directory"]),
    "torchvision-data-dir-missing-no-download": (
        {"datasets": [{"name": "theirs", "kind": "torchvision", "class": "CIFAR10"}], "download": False,
         "data_dir": NOWHERE}, {}, ["data_dir", NOWHERE, "root folder of torchvision's CIFAR10", "download: true"]),
    # datasets of the user's own (tests/unit/config/test_own_data.py has the rest)
    "dataset-given-twice": ({"datasets": ["digits", "digits"]}, {}, ["datasets.1", "'digits' is given twice"]),
    "own-dataset-with-a-built-in-name": ({"datasets": [{"name": "mnist", "kind": "arrays", "path": "mine.npz"}]}, {},
                                         ["datasets.0.name", "'mnist' is a built-in dataset's name"]),
    "own-dataset-named-as-a-results-folder": ({"datasets": [{"name": "logs", "kind": "arrays", "path": "mine.npz"}]},
                                              {}, ["datasets.0.name", "name of a results folder"]),
    "own-dataset-key-typo": ({"datasets": [{"name": "mine", "kind": "arrays", "pth": "mine.npz"}]}, {},
                             ["unknown key 'pth' in datasets.0", "allowed keys:", "path"]),
    "own-dataset-unknown-kind": ({"datasets": [{"name": "mine", "kind": "csv", "path": "mine.csv"}]}, {},
                                 ["datasets.0.kind", "'csv'", "torchvision, folder, arrays"]),
    "arrays-file-missing": ({"datasets": [{"name": "mine", "kind": "arrays", "path": "no/mine.npz"}]}, {},
                            ["datasets.0 (mine)", "no/mine.npz does not exist", "x_train, y_train, x_test and y_test"]),
    "image-folder-missing": ({"datasets": [{"name": "pics", "kind": "folder", "path": "no/pics"}]}, {},
                             ["datasets.0 (pics)", "folder no/pics does not exist", "train/ and test/"]),
    "torchvision-class-unknown": ({"datasets": [{"name": "theirs", "kind": "torchvision", "class": "Cifar10"}]}, {},
                                  ["datasets.0 (theirs)", "no dataset class 'Cifar10'", "did you mean CIFAR10"]),
    "scaling-means-and-deviations-differ": (
        {"datasets": [{"name": "mine", "kind": "arrays", "path": "mine.npz",
                       "scaling": {"mean": [0.5, 0.5], "std": [0.2]}}]}, {},
        ["datasets.0 (mine)", "2 means but 1 standard deviations"]),
    "external-on-a-dataset-not-studied": ({"external": [{"name": "theirs", "dataset": "mine", "activations": "a.h5"}]},
                                          {}, ["external.0 (theirs)", "dataset mine is not in datasets (digits)"]),
    "analysed-split-unknown": ({"analysis": {"split": "validation"}}, {}, ["analysis.split", "test, train"]),
    "analysed-points-not-a-number": ({"analysis": {"points": "half"}}, {},
                                     ["analysis.points", "null or an integer of at least 2"]),
}


def dry_run(workdir, config, env_extra=None, text=None):
    workdir.mkdir(parents=True, exist_ok=True)
    configfile = workdir / "config.yaml"
    configfile.write_text(text if text is not None else yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if k != "NNTOPO_DATA_DIR"}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(configfile), "--cores", "1", "-n"],
        capture_output=True, text=True, env=env, timeout=120,
    )


# One case of each kind of check through the real command: the schema, a preset's key, a value's range,
# the config's cross-checks, a dataset's name, a user's dataset file, an external network, the data
# directory from the config and from NNTOPO_DATA_DIR, a CNN against its images.
THROUGH_SNAKEMAKE = ["unknown-top-key", "unknown-preset-key", "nan-learning-rate", "top-k-above-width",
                     "unknown-dataset", "arrays-file-missing", "external-file-missing", "missing-data-dir-no-download",
                     "env-data-dir-missing", "cnn-kernel-larger-than-image"]


def refusal(workdir, config, env, monkeypatch) -> str:
    """The message the Snakefile's first checks (rules/setup.smk) refuse ``config`` with, run in
    ``workdir`` with ``env``; "" when they accept it."""
    from nntopo import config as nnconfig

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("NNTOPO_DATA_DIR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        nnconfig.check_data_dir(nnconfig.validate(copy.deepcopy(config)))
    except nnconfig.ConfigError as error:
        return str(error)
    return ""


@pytest.fixture(scope="module")
def refused(tmp_path_factory):
    """The representative cases' dry runs, two at a time; {case: (workdir, CompletedProcess)}."""
    root = tmp_path_factory.mktemp("bad_config")

    def one(case):
        change, env, _ = CASES[case]
        workdir = root / case
        return case, (workdir, dry_run(workdir, merged(BASE, change), env))

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(one, THROUGH_SNAKEMAKE))


def test_the_base_config_is_accepted(tmp_path):
    run = dry_run(tmp_path, BASE)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "rule train" in run.stdout + run.stderr


def test_a_missing_data_dir_is_accepted_when_the_download_will_create_it(tmp_path):
    run = dry_run(tmp_path, merged(BASE, {"datasets": ["mnist"], "download": True, "data_dir": NOWHERE}))
    assert run.returncode == 0, run.stderr[-2000:]


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", list(CASES))
def test_bad_config_is_refused_by_the_first_checks(tmp_path, monkeypatch, case):
    change, env, parts = CASES[case]
    message = refusal(tmp_path / case, merged(BASE, change), env, monkeypatch)
    assert message, f"{case} was accepted"
    assert "\n" not in message.strip(), message
    for part in parts:
        assert part in message, f"{part!r} not in: {message}"
    assert not (tmp_path / case / "results").exists()


@pytest.mark.parametrize("case", THROUGH_SNAKEMAKE)
def test_bad_config_is_refused_before_any_job_in_one_line(refused, case):
    workdir, run = refused[case]
    output = run.stdout + run.stderr
    assert run.returncode != 0, f"{case} was accepted:\n{output[-2000:]}"
    assert "Traceback" not in output and "Exception" not in output, output[-3000:]
    errors = [line for line in output.splitlines() if line.startswith("Config error:")]
    assert len(errors) == 1, output[-3000:]
    for part in CASES[case][2]:
        assert part in errors[0], f"{part!r} not in: {errors[0]}"
    # Stopped while loading: no job planned, nothing run, nothing written.
    assert "Job stats" not in output and "rule train" not in output
    assert not (workdir / "results").exists()


def test_the_message_names_the_configs_given(tmp_path):
    """The user fixes the config they gave: --config, each --configfile, then config.yaml, in the order
    that wins; a wrong NNTOPO_DATA_DIR is fixed in the environment, so no config is named for it."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "bad.yaml").write_text(yaml.safe_dump({"widths": [0]}))
    env = {k: v for k, v in os.environ.items() if k != "NNTOPO_DATA_DIR"}
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
               "--cores", "1", "-n"]
    run = subprocess.run([*command, "--configfile", str(tmp_path / "more" / "bad.yaml"), "--config", "download=False"],
                         capture_output=True, text=True, env=env, timeout=120)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Config error:")]
    assert errors == ["Config error: widths.0: 0 is less than the minimum of 1. Fix it where it is set: --config "
                      "download, else more/bad.yaml (--configfile), else config.yaml; schemas/config.schema.yaml "
                      "lists every key."], run.stderr[-2000:]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(merged(BASE, {"datasets": ["fashion_mnist"]})))
    run = subprocess.run(command, capture_output=True, text=True, env={**env, "NNTOPO_DATA_DIR": NOWHERE}, timeout=120)
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Config error:")]
    assert len(errors) == 1 and NOWHERE in errors[0] and "Fix" not in errors[0], run.stderr[-2000:]


@pytest.mark.parametrize(
    "text, message",
    [
        ("widths: [16\n", "not valid JSON or YAML"),
        ("- 16\n- 32\n", "keys at top level"),
    ],
)
def test_a_file_that_is_not_a_config_is_refused_plainly(tmp_path, text, message):
    run = dry_run(tmp_path, None, text=text)
    output = run.stdout + run.stderr
    assert run.returncode != 0 and message in output and "Traceback" not in output
    assert not (tmp_path / "results").exists()


def test_a_cuda_device_that_is_not_there_is_one_clear_line():
    """Whether CUDA is there is known only where the job runs (a login node may have none): the
    training job stops with a user error, which it reports in one line."""
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from nntopo.config import ConfigError
    from nntopo.workflow.jobs import user_errors
    from nntopo.network.train import pick_device

    with pytest.raises(ConfigError, match="device: cuda was asked for.*set device: auto or cpu") as error:
        pick_device("cuda")
    assert isinstance(error.value, user_errors())


@pytest.mark.workflow
def test_a_corrupt_data_file_stops_the_run_naming_the_file(tmp_path):
    """Bad data is found when the training job reads it: one line naming the file, no traceback."""
    from nntopo.data import IDX_FILES
    from tests.unit.data.test_data import fake_mnist

    folder = fake_mnist(tmp_path / "data")
    images = folder / IDX_FILES["test_images"]
    images.write_bytes(images.read_bytes()[:-40])  # truncated
    config = merged(BASE, {"datasets": ["mnist"], "download": False})
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "NNTOPO_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(workdir / "config.yaml"), "--cores", "1", "results/mnist/mlp16-none-s0/activations.h5"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert f"ERROR: {images}: corrupt or truncated gzip file" in output
    assert "Traceback" not in output


@pytest.mark.workflow
def test_what_shows_only_when_a_dataset_is_prepared_stops_its_preparing_job(tmp_path):
    """A torchvision dataset's facts are unknown until rule dataset_data reads it: the config's checks
    that need them (nntopo.config.check_known) run in that job, which stops in one line and leaves no
    data file behind; with the config fixed it prepares the dataset, and its record then stands."""
    from tests.unit.data.formats import mnist_files, write_idx_dataset

    write_idx_dataset(tmp_path / "data", "KMNIST", mnist_files(30, 20))  # torchvision's layout of KMNIST
    entry = {"name": "kuzushiji", "kind": "torchvision", "class": "KMNIST"}
    workdir = tmp_path / "run"
    workdir.mkdir()
    env = {**os.environ, "NNTOPO_DATA_DIR": str(tmp_path / "data")}

    def run(cnn, *args):
        config = merged(BASE, {"datasets": [entry], "download": False, "cnns": [cnn],
                               "clustering": {"methods": ["kmeans"], "kmeans": {"n_clusters": 3}, "top_k": 2}})
        (workdir / "config.yaml").write_text(yaml.safe_dump(config))
        return subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
             "--configfile", str(workdir / "config.yaml"), "--cores", "1", *args],
            capture_output=True, text=True, env=env, timeout=300,
        )

    refused = run({"channels": [4], "kernel": 29, "dense": []}, "results/kuzushiji/dataset.json")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert ("ERROR: cnns: the 29x29 kernel of convolutional layer 1 is larger than its 28x28 input (kuzushiji)"
            in output), output[-3000:]
    assert not (workdir / "results" / "kuzushiji" / "data.h5").exists()
    assert not (workdir / "results" / "kuzushiji" / "dataset.json").exists()

    fits = {"channels": [4], "kernel": 3, "dense": []}
    prepared = run(fits, "results/kuzushiji/dataset.json")
    assert prepared.returncode == 0, (prepared.stdout + prepared.stderr)[-3000:]
    record = json.loads((workdir / "results" / "kuzushiji" / "dataset.json").read_text())
    assert record["input_shape"] == [1, 28, 28] and record["points"] == {"train": 30, "test": 20}
    planned = run(fits, "-n")  # the record is fresh: nothing to prepare again, and the facts known at load
    output = planned.stdout + planned.stderr
    assert planned.returncode == 0 and "rule dataset_data" not in output and "rule train" in output, output[-3000:]
