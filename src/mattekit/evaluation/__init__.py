"""Evaluation: matting metrics under the GFM and DIM protocols, interactive and instance metrics.

``metrics.evaluate`` scores one prediction against its ground truth; ``interactive`` holds IoU, NoC, per-round
curves and InstMatt's IMQ. See ``docs/metrics.md`` for every formula and the reference quirks reproduced.

Example:
    >>> import numpy as np
    >>> from mattekit.evaluation.metrics import evaluate
    >>> evaluate(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8))["sad"]
    0.016
"""
