"""What a person chooses for a training run (`TrainSettings`), its bounds, and what the settings mean.

What differs between networks (which settings they use, their defaults, how to build them, what
goes wrong with them) is in the registry of networks (mnistcore.nets.registry); this module asks it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..i18n import N_, ngettext
from ..i18n import gettext as _
from ..nets import Network, network
from ..nets.base import DigitModel

# Inclusive bounds for the numbers a person may choose: (low, high). A network may tighten them.
LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (1, 30),
    "batch_size": (1, 1024),
    "hidden": (16, 1024),
    "learning_rate": (0.0001, 1.0),
    "momentum": (0.0, 0.99),
}
WHOLE = ("epochs", "batch_size", "hidden")  # numbers that must be whole
# The settings as errors name them (translated where the error is made).
SETTING_NAMES = {"epochs": N_("epochs"), "batch_size": N_("batch size"), "hidden": N_("hidden"),
                 "learning_rate": N_("learning rate"), "momentum": N_("momentum"),
                 "lab_drawings": N_("lab drawings"), "robust": N_("robust")}
ACTIVATIONS = ("relu", "sigmoid")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainSettings:
    """One training run. The model settings (hidden ... schedule) apply only where the network uses them."""

    engine: str = "numpy"          # "numpy" (our network) or "keras": mnistcore.nets.registry has them all
    epochs: int = 10
    batch_size: int = 128
    hidden: int = 512              # numpy mlp: hidden units
    learning_rate: float = 0.1     # numpy: step size
    activation: str = "relu"       # numpy mlp: "relu" (softmax output) or "sigmoid" (the tutorial's)
    momentum: float = 0.9          # numpy mlp, sgd: 0 = the tutorial's plain step
    arch: str = "mlp"              # "mlp" (the tutorial's network) or "cnn"
    seed: int | None = 0           # weights and shuffling; None = fresh randomness
    train_limit: int | None = None # train on the first N images only (quick runs and tests)
    lab_drawings: bool = False     # also train on the lab's labelled drawings (given to run_training)
    robust: bool = False           # distort every batch (mnistcore.augment.ROBUST): other handwriting styles
    optimizer: str = "sgd"         # numpy mlp: "sgd" (the tutorial's step) or "adam"
    schedule: str = "constant"     # numpy mlp: "cosine" lowers the learning rate to 0 over the run

    @classmethod
    def for_network(cls, engine: str, arch: str, **given) -> TrainSettings:
        """Settings for this network: `given`, else the network's own defaults, else TrainSettings'."""
        return cls(engine=engine, arch=arch, **{**network(engine, arch).defaults, **given})

    @property
    def network(self) -> Network:
        """The registry's entry for this engine and architecture; ValueError for an unknown one."""
        return network(self.engine, self.arch)

    @property
    def applies(self) -> tuple[str, ...]:
        """The model settings that this engine and architecture use (the rest are ignored)."""
        try:
            return self.network.applies
        except ValueError:
            return ()

    @property
    def limits(self) -> dict[str, tuple[float, float]]:
        """The bounds of each number for this network: LIMITS, tightened where the network says so."""
        return {**LIMITS, **self.network.limits}

    def validate(self) -> TrainSettings:
        """Return self, or raise ValueError naming the bad value and the allowed range."""
        limits = self.limits  # names an unknown engine or architecture
        if self.activation not in ACTIVATIONS:
            raise ValueError(_("activation must be relu or sigmoid; got {value}").format(value=repr(self.activation)))
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(_("optimizer must be one of {allowed}; got {value}").format(
                allowed=", ".join(OPTIMIZERS), value=repr(self.optimizer)))
        if self.schedule not in SCHEDULES:
            raise ValueError(_("schedule must be one of {allowed}; got {value}").format(
                allowed=", ".join(SCHEDULES), value=repr(self.schedule)))
        for name, (low, high) in limits.items():
            value = getattr(self, name)
            whole = name in WHOLE
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or (whole and int(value) != value) or not (low <= value <= high):
                kind = _("{name} must be a whole number from {low} to {high}; got {value}") if whole else \
                    _("{name} must be a number from {low} to {high}; got {value}")
                raise ValueError(kind.format(name=setting_name(name), low=f"{low:g}", high=f"{high:g}",
                                             value=repr(value)))
        if self.train_limit is not None and not (1 <= self.train_limit):
            raise ValueError(_("train limit must be at least 1; got {value}").format(value=repr(self.train_limit)))
        for name in ("lab_drawings", "robust"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(_("{name} must be True or False; got {value}").format(
                    name=setting_name(name), value=repr(getattr(self, name))))
        return self

    def describe(self) -> str:
        """The settings in one line, e.g. "NumPy relu network, 512 hidden units, ..., 1 epoch at batch 128"."""
        described = _("{network}, {epochs}").format(network=self.network.describe(self), epochs=ngettext(
            "{epochs} epoch at batch {batch}", "{epochs} epochs at batch {batch}", self.epochs).format(
            epochs=self.epochs, batch=self.batch_size))
        if self.robust:
            described = _("{settings}, made robust to other handwriting").format(settings=described)
        if self.lab_drawings:
            described = _("{settings}, with the lab's drawings").format(settings=described)
        return described

    def model_settings(self) -> dict:
        """The settings this network uses, by name: what its `build` takes besides the seed."""
        return {name: getattr(self, name) for name in self.network.applies}


def setting_name(name: str) -> str:
    """A setting's name as a person reads it, in the current language: "batch_size" -> "batch size"."""
    return _(SETTING_NAMES.get(name, name.replace("_", " ")))


def plural(count: int, word: str) -> str:
    """ "1 epoch", "3 epochs"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def new_model(settings: TrainSettings) -> DigitModel:
    """A fresh, untrained model for these settings (only the settings that apply are passed on)."""
    settings.validate()
    return settings.network.build(settings.seed, **settings.model_settings())


def risky(settings: TrainSettings) -> str | None:
    """Why these settings are known to go wrong, in plain words; None when they look safe."""
    check = settings.network.risky
    return check(settings) if check is not None else None


def engine_problem(settings: TrainSettings) -> str | None:
    """Why this server cannot train with these settings' engine, in plain words; None if it can."""
    unavailable = settings.network.unavailable
    return unavailable() if unavailable is not None else None


# One plain sentence per setting, for the page's Custom form (translated there) and the CLI's --help.
EXPLAINED = {
    "engine": N_("Which program trains it: our own NumPy code (the tutorial's), or Keras (Google's TensorFlow)."),
    "arch": N_("The shape of the network: one hidden layer (MLP), or layers that look at small patches (CNN)."),
    "epochs": N_("How many times the network sees all 60,000 training images. More takes longer."),
    "batch_size": N_("How many images it looks at before each small change to its weights. 1 is the tutorial's "
                     "way (slow); 128 is quick."),
    "hidden": N_("How many neurons sit between the pixels and the answer. More can learn more, but is slower."),
    "learning_rate": N_("How big each change to the weights is. Too big and it goes wild; too small and it "
                        "learns slowly."),
    "momentum": N_("How much of the previous change carries on into the next, like a rolling ball. 0 is the "
                   "tutorial's plain step."),
    "activation": N_("How a neuron answers: sigmoid is the tutorial's smooth S-curve; ReLU (with softmax "
                     "at the output) learns faster."),
    "optimizer": N_("The learning rule: plain steps downhill (the tutorial's), or Adam, which sizes each "
                    "weight's step by itself."),
    "schedule": N_("Keep the step size, or let it fall to zero by the end, so the last steps fine-tune."),
}
