"""Settings known to work, with a name and one plain sentence, for people who do not know what a
learning rate is: the Train page's menu."""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import N_
from .settings import TrainSettings


@dataclass(frozen=True)
class Recipe:
    """Settings known to work, with a name and one plain sentence for people who are not programmers
    (both in English: the page translates them)."""

    title: str
    says: str
    settings: TrainSettings


# The "Best NumPy model" recipe: 98% of the test digits in the least time here (bench/train_bench.py
# measures it; docs/measurements.md has the sweep that chose it).
BEST = TrainSettings(epochs=4, batch_size=128, hidden=256, learning_rate=0.2, momentum=0.9, schedule="cosine")
# The "Convolutional, quick" recipe: 98.8% of the test digits within a minute on the slot's one core
# (docs/measurements.md has the runs that chose it: Adam 0.003 since dropout is drawn per piece).
CNN_QUICK = TrainSettings.for_network("numpy", "cnn", epochs=3, batch_size=64, learning_rate=0.003, schedule="cosine")


def recipes() -> dict[str, Recipe]:
    """The Train page's choices, in order."""
    cnn = TrainSettings.for_network("numpy", "cnn", epochs=3, batch_size=128, robust=True)
    return {
        "quick": Recipe(N_("Quick look"), N_("A small network that learns in one pass over the images: good enough "
                                             "to read most digits, and done before you know it."),
                        TrainSettings(epochs=1, batch_size=128, hidden=128, learning_rate=0.2, momentum=0.9,
                                      schedule="cosine")),
        "best": Recipe(N_("Best NumPy model"), N_("Our own network, with big steps at first that get smaller and "
                                                  "smaller towards the end: about 98 of 100 test digits right."), BEST),
        "tutorial": Recipe(N_("The tutorial's own network"),
                           N_("Exactly the tutorial: 200 sigmoid neurons, learning rate 0.1, one image at a time, "
                              "5 passes. Slow, and it shows how far we have come."),
                           TrainSettings(epochs=5, batch_size=1, hidden=200, learning_rate=0.1,
                                         activation="sigmoid", momentum=0.0)),
        "cnn-quick": Recipe(N_("Convolutional, quick"),
                            N_("The network that looks at small patches, in three passes over the images with big "
                               "steps that get smaller: nearly 99 of 100 test digits right in about a minute."),
                            CNN_QUICK),
        "cnn": Recipe(N_("Convolutional, best"), N_("A network that looks at small patches of the image, as eyes "
                                                    "do: the most accurate here, and the slowest."), cnn),
    }
