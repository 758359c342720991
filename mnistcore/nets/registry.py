"""The networks one can train, one entry per (engine, architecture): everything that differs between them.

An entry says how to build and load the network, which training settings it uses (and its own
defaults and bounds for them), how to describe it in one line, what a run of it costs, how Look
inside shows it, and the suffix of its saved file. Training, the command line, the Train page and
`explain/` look networks up here instead of asking which engine or architecture they have, so a
new network is one entry below plus its engine code.

This is the only module that names every engine module. Importing it is cheap: each engine is
imported only when one of its models is built or loaded (TensorFlow takes seconds).
"""
from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..i18n import N_
from ..i18n import gettext as _
from .base import DigitModel, ModelInfo
from .saved import is_cnn

# Settings is any object with the training settings as attributes (mnistcore.training.TrainSettings).
Settings = Any

# The settings a network may use; TrainSettings has a field for each.
MODEL_SETTINGS = ("hidden", "learning_rate", "momentum", "activation", "optimizer", "schedule")

# What Look inside can show of a model (explain/ and pages/inside.py draw each one).
HIDDEN_UNITS = "hidden_units"            # a NumPy MLP's hidden units' incoming weights
BACK_QUERY = "back_query"                # the tutorial's back query (meaningful for the sigmoid network)
FIRST_LAYER_UNITS = "first_layer_units"  # a Keras MLP's first Dense layer's units
CONV_FILTERS = "conv_filters"            # a convnet's first convolution's filters
FEATURE_MAPS = "feature_maps"            # a convnet's feature maps of one image


@dataclass(frozen=True)
class Network:
    """One network one can train: what differs from the others, in data and small functions."""

    engine: str                    # "numpy" (our code) or "keras"
    arch: str                      # "mlp" or "cnn"
    engine_label: str              # the Train page's name for the engine
    label: str                     # the Train page's name for the architecture
    make: Callable[..., DigitModel]             # (seed=, **settings it uses) -> an untrained model
    load: Callable[[str | os.PathLike], DigitModel]  # a checked saved file -> the model
    describe: Callable[[Settings], str]         # the network and its settings in a few words
    costs: Callable[[Settings], tuple[float, float]]  # (seconds per image, per weight update), quiet server
    suffix: str                    # of its saved file
    applies: tuple[str, ...] = ()  # the MODEL_SETTINGS it uses; the others are refused or hidden
    defaults: Mapping[str, Any] = field(default_factory=dict)  # where TrainSettings' defaults do not suit it
    limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # tighter than training.LIMITS
    views: tuple[str, ...] = ()    # what Look inside shows of it
    tensorflow: bool = False       # a Keras model: TensorFlow loads before its first batch; explain/ reads its layers
    start_seconds: tuple[float, float] = (0.0, 0.0)  # before the first batch: (TensorFlow not loaded, loaded)
    shape: Callable[[Settings], str] | None = None  # what else changes its cost per image (Timings' key)
    risky: Callable[[Settings], str | None] | None = None  # why settings would blow up, or None
    unavailable: Callable[[], str | None] | None = None    # why this server cannot train it, or None

    @property
    def name(self) -> str:
        return f"{self.engine} {self.arch}"

    def build(self, seed: int | None = 0, **settings) -> DigitModel:
        """A fresh, untrained model; `settings` are some of `applies` (the rest take `defaults`)."""
        extra = [name for name in settings if name not in self.applies]
        if extra:
            verb = "does" if len(extra) == 1 else "do"
            raise ValueError(f"{', '.join(extra)} {verb} not apply to the {self.name} network; "
                             f"it uses {', '.join(self.applies) or 'none of the model settings'}")
        return self.make(seed=seed, **{**self.defaults, **settings})


# ---------------------------------------------------------------------------- what a run costs

# Cost model for a quiet lab server (2 cores, no GPU), used until Timings has measured runs here
# (docs/measurements.md has the timings behind these figures).
NUMPY_PER_SAMPLE_UNIT = 2.9e-8   # one image through one hidden unit, forward and back
NUMPY_PER_STEP = 55e-6           # one weight update...
NUMPY_PER_STEP_UNIT = 3.4e-7     # ...and its cost per hidden unit
NUMPY_ONE_STEP = 24e-6           # one image at a time, plain steps: the BLAS vector path (numpy_net._step_one)...
NUMPY_ONE_STEP_UNIT = 1e-7       # ...and its cost per hidden unit
NUMPY_SIGMOID_FACTOR = 1.3       # expit costs more than max(x, 0)
NUMPY_ADAM_FACTOR = 1.3          # Adam's update touches every weight a few more times
NUMPY_CNN_PER_SAMPLE = 1.5e-4    # one image through the convnet, forward and back, one BLAS thread
NUMPY_CNN_PER_STEP = 1.0e-3      # a batch's Python and set-up, whatever its size
KERAS_PER_SAMPLE = {"mlp": 3.0e-5, "cnn": 4.2e-4}   # ~2.5 s and ~26 s per 60,000-image epoch
KERAS_PER_STEP = 1.5e-3
KERAS_START = 12.0               # importing TensorFlow (~11 s measured) and building the model
KERAS_WARM_START = 1.5           # building the model once TensorFlow is loaded


# ---------------------------------------------------------------------------- the NumPy MLP

def _numpy_mlp(*, seed, learning_rate, hidden=512, activation="relu", momentum=0.9, optimizer="sgd",
               schedule="constant") -> DigitModel:
    from .numpy_net import NeuralNetWork
    return NeuralNetWork(784, int(hidden), 10, float(learning_rate), activation=activation,
                         momentum=float(momentum), seed=seed, optimizer=optimizer, schedule=schedule)


def _load_numpy_mlp(path) -> DigitModel:
    from .numpy_net import NeuralNetWork
    return NeuralNetWork.load(path)


def _describe_numpy_mlp(s: Settings) -> str:
    rule = (_("Adam, learning rate {rate}") if s.optimizer == "adam" else
            _("learning rate {rate}, momentum {momentum}")).format(rate=f"{s.learning_rate:g}",
                                                                   momentum=f"{s.momentum:g}")
    if s.schedule == "cosine":
        rule = _("{rule} falling to 0").format(rule=rule)
    return _("NumPy {activation} network, {hidden} hidden units, {rule}").format(
        activation=s.activation, hidden=s.hidden, rule=rule)


def _numpy_mlp_costs(s: Settings) -> tuple[float, float]:
    hidden = int(s.hidden)
    factor = (NUMPY_SIGMOID_FACTOR if s.activation == "sigmoid" else 1.0) * \
        (NUMPY_ADAM_FACTOR if s.optimizer == "adam" else 1.0)
    if int(s.batch_size) == 1 and s.optimizer == "sgd" and s.momentum == 0:
        return hidden * NUMPY_PER_SAMPLE_UNIT * factor, (NUMPY_ONE_STEP + hidden * NUMPY_ONE_STEP_UNIT) * factor
    return hidden * NUMPY_PER_SAMPLE_UNIT * factor, (NUMPY_PER_STEP + hidden * NUMPY_PER_STEP_UNIT) * factor


def _numpy_mlp_shape(s: Settings) -> str:
    hidden = 1 << max(0, int(s.hidden) - 1).bit_length()  # widths bucketed by powers of 2, as batches are
    return f"{s.activation}-{s.optimizer}/h{hidden}"


def _numpy_mlp_risky(s: Settings) -> str | None:
    """The MLP's steps are about learning_rate / (1 - momentum) in size; with few images per batch
    each step is noisy too. Measured: 0.1 with momentum 0.9 at batch 4 ends at chance (10%) after
    one epoch, while the same at batch 128 reaches 98%."""
    if s.optimizer == "adam":
        if s.learning_rate > 0.01:
            return _("Adam with learning rate {rate} takes steps that are too big (0.001 to 0.003 work well): "
                     "it is likely to learn nothing").format(rate=f"{s.learning_rate:g}")
        return None
    step = s.learning_rate / (1 - s.momentum)
    if step >= 0.5 and s.batch_size < 32 or step >= 3:
        return _("learning rate {rate} with momentum {momentum} at batch {batch} takes steps too big for so few "
                 "images at a time: runs like this usually blow up and learn nothing. Try a smaller learning rate, "
                 "less momentum or a bigger batch").format(rate=f"{s.learning_rate:g}", momentum=f"{s.momentum:g}",
                                                           batch=s.batch_size)
    return None


# ---------------------------------------------------------------------------- the NumPy CNN


def _numpy_cnn(*, seed, learning_rate, schedule="constant") -> DigitModel:
    from .numpy_cnn import CnnConfig, ConvNet
    return ConvNet(CnnConfig(learning_rate=float(learning_rate), seed=seed, schedule=schedule))


def _load_numpy_cnn(path) -> DigitModel:
    from .numpy_cnn import ConvNet
    return ConvNet.load(path)


def _describe_numpy_cnn(s: Settings) -> str:
    rule = _("learning rate {rate}").format(rate=f"{s.learning_rate:g}")
    return _("NumPy CNN, {rule}").format(rule=_("{rule} falling to 0").format(rule=rule) if s.schedule == "cosine"
                                         else rule)


# ---------------------------------------------------------------------------- Keras


def _keras(arch: str) -> Callable[..., DigitModel]:
    def make(*, seed) -> DigitModel:
        from .keras_net import KerasModel  # imports TensorFlow: only when a Keras model is built
        return KerasModel(arch=arch, seed=seed)
    return make


def _load_keras(path) -> DigitModel:
    from .keras_net import KerasModel  # imports TensorFlow: only when a Keras model is loaded
    return KerasModel.load(path)


def keras_problem() -> str | None:
    """Why this machine cannot use the Keras engine, in plain words; None if it can.

    Looks without importing anything (TensorFlow takes seconds to import).
    """
    for module, what in (("tensorflow", _("TensorFlow is not installed")),
                         ("mnistcore.nets.keras_net", _("the Keras engine (mnistcore/nets/keras_net.py) is missing"))):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return what
    return None


def _keras_unavailable() -> str | None:
    problem = keras_problem()
    return _("Keras training is not available on this server: {problem}. Choose the NumPy engine.").format(
        problem=problem) if problem else None


# ---------------------------------------------------------------------------- the entries

# In English; the Train page shows them in the visitor's language.
NUMPY_LABEL = N_("NumPy (our own code, the tutorial's)")
KERAS_LABEL = N_("Keras (Google's TensorFlow)")
MLP_LABEL = N_("One hidden layer (the tutorial's network)")
CNN_LABEL = N_("Convolutional (slower, better)")
CONVNET_VIEWS = (CONV_FILTERS, FEATURE_MAPS)

NETWORKS: dict[tuple[str, str], Network] = {(n.engine, n.arch): n for n in (
    Network("numpy", "mlp", NUMPY_LABEL, MLP_LABEL, _numpy_mlp, _load_numpy_mlp, _describe_numpy_mlp,
            _numpy_mlp_costs, ".npz", applies=MODEL_SETTINGS,
            defaults={"learning_rate": 0.1},  # SGD's step
            views=(HIDDEN_UNITS, BACK_QUERY), shape=_numpy_mlp_shape, risky=_numpy_mlp_risky),
    Network("numpy", "cnn", NUMPY_LABEL, CNN_LABEL, _numpy_cnn, _load_numpy_cnn, _describe_numpy_cnn,
            lambda s: (NUMPY_CNN_PER_SAMPLE, NUMPY_CNN_PER_STEP), ".npz", applies=("learning_rate", "schedule"),
            defaults={"learning_rate": 0.001},  # Adam's step: 0.1 would make Adam diverge at once
            views=CONVNET_VIEWS),
    Network("keras", "mlp", KERAS_LABEL, MLP_LABEL, _keras("mlp"), _load_keras, lambda s: "Keras MLP",
            lambda s: (KERAS_PER_SAMPLE["mlp"], KERAS_PER_STEP), ".keras", views=(FIRST_LAYER_UNITS,),
            tensorflow=True, start_seconds=(KERAS_START, KERAS_WARM_START), unavailable=_keras_unavailable),
    Network("keras", "cnn", KERAS_LABEL, CNN_LABEL, _keras("cnn"), _load_keras, lambda s: "Keras CNN",
            lambda s: (KERAS_PER_SAMPLE["cnn"], KERAS_PER_STEP), ".keras", views=CONVNET_VIEWS,
            tensorflow=True, start_seconds=(KERAS_START, KERAS_WARM_START), unavailable=_keras_unavailable),
)}

ENGINES = tuple(dict.fromkeys(engine for engine, _ in NETWORKS))
ARCHS = tuple(dict.fromkeys(arch for _, arch in NETWORKS))


def archs(engine: str) -> tuple[str, ...]:
    """The architectures `engine` can train, in the registry's order."""
    return tuple(arch for e, arch in NETWORKS if e == engine)


def network(engine: str, arch: str) -> Network:
    """The entry for (engine, arch); ValueError naming an unknown engine or architecture."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    found = NETWORKS.get((engine, arch))
    if found is None:
        raise ValueError(f"arch for the {engine} engine must be one of {', '.join(archs(engine))}; got {arch!r}")
    return found


def arch_of(settings: object) -> str:
    """A saved model's architecture, from its settings (a convnet's say "arch": "cnn"; MLP files have none)."""
    return "cnn" if is_cnn(settings) else "mlp"


def network_of(info: ModelInfo) -> Network:
    """The entry of a model, from its metadata."""
    return network(info.engine, arch_of(info.settings))
