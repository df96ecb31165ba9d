"""``mattekit.metrics.evaluate``: the public name of :func:`mattekit.evaluation.metrics.evaluate`."""
from mattekit.evaluation.metrics import evaluate  # noqa: F401
