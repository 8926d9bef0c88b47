import subprocess
import sys

import pytest

from nntopo import config, models
from nntopo.config import ConfigError
from tests.conftest import ROOT


def test_defaults_fill_an_empty_config():
    c = config.validate({})
    assert c["datasets"] == ["mnist"] and c["widths"] == [100, 1024, [128, 128, 128, 128]]
    assert c["activations"] == ["relu"] and c["activation"]["leaky_relu"]["slope"] == 0.2
    assert c["analysis"]["layers"] == "all"
    assert c["regularizations"] == ["none", "l2"] and c["training"]["epochs"] >= 1
    assert c["regularization"]["l2"]["strength"] > 0


def test_repository_config_is_valid_and_is_the_default_grid():
    c = config.load(ROOT / "config.yaml")
    assert [str(m) for m in config.model_ids(c)] == ["mlp100-none-s0", "mlp100-l2-s0", "mlp1024-none-s0", "mlp1024-l2-s0",
                                                     "mlp128x128x128x128-none-s0", "mlp128x128x128x128-l2-s0"]
    defaults = config.validate({})  # the methods' parameter blocks default to the code's, not the schema's
    # MNIST's homology measures 800 images a digit (of 892-1135); the default, every point, fits every dataset.
    assert c["homology"].pop("points_per_class") == 800 and defaults["homology"].pop("points_per_class") is None
    assert {k: v for k, v in c.items() if k != "clustering"} == {k: v for k, v in defaults.items() if k != "clustering"}


@pytest.mark.parametrize(
    "bad, named",
    [
        ({"epochs": 3}, "unknown key 'epochs'"),
        ({"training": {"epoch": 3}}, "unknown key 'epoch' in training"),
        ({"training": {"epochs": 0}}, "training.epochs"),
        ({"training": {"lr": "fast"}}, "training.lr"),
        ({"datasets": ["mnistt"]}, "choose one of: mnist, fashion_mnist, digits"),
        ({"datasets": []}, "datasets"),
        ({"widths": [0]}, "widths.0"),
        ({"widths": [[512, -1]]}, "widths.0"),
        ({"regularizations": ["l3"]}, "choose one of: none, l2, l1, dropout"),
        ({"regularization": {"l2": {"strength": -1}}}, "regularization.l2.strength"),
        ({"regularization": {"dropout": {"p": 1.5}}}, "regularization.dropout.p"),
        ({"seeds": [-1]}, "seeds.0"),
        ({"device": "tpu"}, "choose one of: auto, cpu, cuda"),
    ],
)
def test_bad_config_names_the_key(bad, named):
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(".", r"\.")):
        config.validate(bad)


def test_model_ids_expand_widths_regularizations_and_seeds():
    c = config.validate({"widths": [[512, 256], 8], "regularizations": ["l1"], "seeds": [0, 3]})
    assert [str(m) for m in config.model_ids(c)] == ["mlp512x256-l1-s0", "mlp512x256-l1-s3", "mlp8-l1-s0", "mlp8-l1-s3"]


def test_training_slice_holds_only_what_training_reads():
    c = config.validate({})
    settings = config.training_slice(c, "mlp1024-l2-s7")
    assert settings == {"widths": [1024], "activation": {"name": "relu"},
                        "regularization": {"name": "l2", **c["regularization"]["l2"]}, "seed": 7,
                        "training": {k: v for k, v in c["training"].items() if k != "early_stopping"},
                        "neural_persistence": {"p": 2, "seed": 0}}
    # early stopping's settings are in the slice only when it is on
    c3 = config.validate({"training": {"validation_split": 0.1, "early_stopping": {"criterion": "validation_loss"}}})
    assert config.training_slice(c3, "mlp1024-l2-s7")["training"]["early_stopping"]["patience"] == 3
    c4 = config.validate({"training": {"early_stopping": {"patience": 9}}})
    assert config.training_slice(c4, "mlp1024-l2-s7") == settings
    c2 = config.validate({"regularization": {"l1": {"strength": 0.5}}})
    assert config.training_slice(c2, "mlp1024-l2-s7") == settings


def test_model_ids_name_the_activation_unless_relu():
    c = config.validate({"widths": [[8, 8]], "activations": ["relu", "tanh", "leaky_relu"], "regularizations": ["l2"]})
    ids = [str(m) for m in config.model_ids(c)]
    assert ids == ["mlp8x8-l2-s0", "mlp8x8-tanh-l2-s0", "mlp8x8-leaky_relu-l2-s0"]
    assert [str(models.ModelId.parse(i)) for i in ids] == ids  # ids read back as the same models
    assert models.ModelId.parse("mlp8x8-leaky_relu-l2-s0").activation == "leaky_relu"
    leaky = config.training_slice(c, "mlp8x8-leaky_relu-l2-s0")["activation"]
    assert leaky == {"name": "leaky_relu", "slope": 0.2}
    # The slope is the leaky models' alone: changing it leaves the others' training untouched.
    c2 = config.validate({**c, "activation": {"leaky_relu": {"slope": 0.1}}})
    assert config.training_slice(c2, "mlp8x8-tanh-l2-s0") == config.training_slice(c, "mlp8x8-tanh-l2-s0")
    assert config.training_slice(c2, "mlp8x8-leaky_relu-l2-s0")["activation"]["slope"] == 0.1


def test_analysed_layers_and_whose_neurons_are_ranked():
    deep = "mlp8x8x8-none-s0"
    for chosen, layers in (("all", ["hidden_1", "hidden_2", "hidden_3", "output"]), ("last", ["hidden_3", "output"]),
                           ([2, 1], ["hidden_1", "hidden_2", "output"])):
        c = config.validate({"widths": [[8, 8, 8]], "analysis": {"layers": chosen}})
        assert config.layers_of(c, deep) == layers
        # A hidden layer's clusters rank its own neurons; the output's rank every analysed hidden layer's.
        assert config.ranked_layers(c, deep, "output") == layers[:-1]
        assert config.ranked_layers(c, deep, layers[0]) == [layers[0]]


def test_data_dir_environment_override(monkeypatch):
    monkeypatch.setenv("NNTOPO_DATA_DIR", "/somewhere")
    assert str(config.data_dir(config.validate({}))) == "/somewhere"


def test_snakemake_dry_run_stops_with_one_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("widths: [100, -4]\n")
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert run.returncode != 0
    assert "Config error: widths.1" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
