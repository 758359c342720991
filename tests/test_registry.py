"""The registry of networks: every entry is complete and consistent, models find their entry, and
a new network is one entry (the rest of training, the CLI and the estimates follow it)."""
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from mnistcore import cli
from mnistcore.explain import inside
from mnistcore.nets import ENGINES, NETWORKS, build_model, network, network_of, registry
from mnistcore.training import (LIMITS, TrainSettings, engine_problem, estimate_phases, new_model, risky,
                                run_training, shape_key)
from mnistcore.training.timing import COMPANION_SECONDS

PROJECT = Path(__file__).resolve().parent.parent
VIEWS = {inside.BACK_QUERY, inside.CONV_FILTERS, inside.FEATURE_MAPS, inside.FIRST_LAYER_UNITS, inside.HIDDEN_UNITS}
FIELDS = {f.name for f in dataclasses.fields(TrainSettings)}


@pytest.mark.parametrize("key", list(NETWORKS))
def test_every_entry_is_complete_and_consistent(key):
    entry = NETWORKS[key]
    assert (entry.engine, entry.arch) == key and entry.engine in ENGINES
    assert set(entry.applies) <= set(registry.MODEL_SETTINGS) <= FIELDS
    assert set(entry.defaults) <= set(entry.applies), "a default for a setting the network does not use"
    for name, (low, high) in entry.limits.items():
        assert LIMITS[name][0] <= low <= high <= LIMITS[name][1], "a network may only tighten the limits"
    assert entry.views and set(entry.views) <= VIEWS, "Look inside must know how to show each view"
    assert entry.suffix.startswith(".") and entry.label and entry.engine_label
    settings = TrainSettings.for_network(*key)
    per_image, per_update = entry.costs(settings)
    assert per_image > 0 and per_update >= 0
    assert settings.describe().endswith("10 epochs at batch 128")
    assert shape_key(settings).startswith(f"{entry.engine}/{entry.arch}/")
    assert (entry.start_seconds[0] > 0) == entry.tensorflow  # only loading TensorFlow takes long


@pytest.mark.parametrize("key", [key for key in NETWORKS if not NETWORKS[key].tensorflow])
def test_a_built_model_finds_its_entry_and_saves_with_its_suffix(key, tmp_path):
    entry = NETWORKS[key]
    model = new_model(TrainSettings.for_network(*key, seed=0))
    assert network_of(model.info) is entry
    path = model.save(tmp_path / f"model{entry.suffix}")
    assert network_of(entry.load(path).info) is entry


def test_unknown_networks_and_settings_are_named():
    with pytest.raises(ValueError, match="engine must be one of numpy, keras; got 'torch'"):
        network("torch", "mlp")
    with pytest.raises(ValueError, match="arch for the numpy engine must be one of mlp, cnn; got 'rnn'"):
        TrainSettings(arch="rnn").validate()
    with pytest.raises(ValueError, match="hidden does not apply to the numpy cnn network"):
        network("numpy", "cnn").build(0, hidden=64)
    with pytest.raises(ValueError, match="unknown model settings dropout"):
        build_model("numpy", dropout=0.5)


def test_the_networks_defaults_fill_what_is_not_given():
    assert TrainSettings.for_network("numpy", "cnn").learning_rate == 0.001
    assert TrainSettings.for_network("numpy", "cnn", learning_rate=0.002).learning_rate == 0.002
    assert TrainSettings.for_network("numpy", "mlp").learning_rate == 0.1
    assert build_model("numpy", arch="cnn", learning_rate=None).config.learning_rate == 0.001


def test_importing_the_registry_and_training_never_imports_tensorflow():
    code = ("import sys, mnistcore.nets.registry, mnistcore.training, mnistcore.cli;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_new_network_is_one_entry(monkeypatch, small_mnist, tmp_path):
    """A made-up network, registered here only: training, estimates, the CLI's choices follow it."""
    tiny = dataclasses.replace(
        NETWORKS[("numpy", "mlp")], arch="tiny", label="A tiny MLP", applies=("learning_rate",),
        make=lambda seed, learning_rate: build_model("numpy", hidden=16, learning_rate=learning_rate, seed=seed),
        describe=lambda s: f"Tiny MLP, learning rate {s.learning_rate:g}", costs=lambda s: (1e-6, 1e-5),
        defaults={"learning_rate": 0.05}, limits={"epochs": (1, 2)}, shape=None, risky=None)
    monkeypatch.setitem(NETWORKS, ("numpy", "tiny"), tiny)
    monkeypatch.setattr(registry, "ARCHS", (*registry.ARCHS, "tiny"))
    monkeypatch.setattr(cli, "ARCHS", registry.ARCHS)

    settings = TrainSettings.for_network("numpy", "tiny", epochs=2, batch_size=64, train_limit=2000).validate()
    assert settings.learning_rate == 0.05 and settings.applies == ("learning_rate",)
    assert settings.describe() == "Tiny MLP, learning rate 0.05, 2 epochs at batch 64"
    assert shape_key(settings) == "numpy/tiny/b64"
    # Testing and the curve points' scoring (30,000 images in 2 epochs), the final test and the companion's
    # 8,000 drawings are forward passes: a third of an image each; then the companion's own fit.
    assert estimate_phases(settings, 60_000) == (0.0, pytest.approx(
        2 * (1e-6 * 2000 + 32 * 1e-5) + 1e-6 * (30_000 + 18_000) / 3 + COMPANION_SECONDS))
    assert risky(settings) is None and engine_problem(settings) is None
    with pytest.raises(ValueError, match="epochs must be a whole number from 1 to 2; got 3"):
        dataclasses.replace(settings, epochs=3).validate()
    result = run_training(settings, small_mnist)
    assert result.model.wih.shape == (16, 784) and len(result.history) == 2
    assert result.evaluation.accuracy > 0.5
    args = cli._parser().parse_args(["train", "--arch", "tiny", "--hidden", "32", "--out", str(tmp_path / "t.npz")])
    with pytest.raises(ValueError, match="--hidden does not apply to --engine numpy --arch tiny"):
        args.command(args)


def test_the_convnets_estimate_counts_its_weight_updates():
    from mnistcore.training.timing import modelled_epoch
    one, big = (modelled_epoch(TrainSettings(engine="numpy", arch="cnn", batch_size=b), 60_000) for b in (1, 128))
    # 60,000 updates at batch 1 against 469 at batch 128: the same images, far more updates.
    assert one > 1.4 * big
    assert modelled_epoch(TrainSettings(engine="numpy", arch="cnn", batch_size=16), 60_000) < one
