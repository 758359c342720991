"""A timings file as a server that has probed its networks before has one (mnistcore.training.timing.probe),
with the cost model's own figures: the start-up probe is tested on its own (test_estimates.py); in the
other tests it would only take the CPU their runs need on a busy machine."""
from mnistcore.training import Timings, recipes
from mnistcore.training.timing import COMPANION_SECONDS, PROBE_BATCHES, ROBUST_PER_SAMPLE, Probed


def probed_already(path):
    """Write the figures into the timings file at `path` (made if missing); returns `path`."""
    timings = Timings(path)
    for recipe in recipes().values():
        settings = recipe.settings
        per_image, per_update = settings.network.costs(settings)
        robust = ROBUST_PER_SAMPLE if settings.robust else 0.0
        paces = {batch: per_image + per_update / batch + robust for batch in (*PROBE_BATCHES, settings.batch_size)}
        timings.record_probe(settings, Probed(paces, per_image / 3))
    timings.record_companion(COMPANION_SECONDS)
    return path
