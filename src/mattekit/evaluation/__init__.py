"""Evaluation: matting metrics (GFM and DIM protocols), interactive and instance metrics, benchmarks.

``metrics.evaluate`` scores one prediction against its ground truth (``gfm_protocol`` and ``dim_protocol``
reproduce the two reference implementations, ``docs/metrics.md`` has every formula); ``interactive`` holds IoU,
NoC, per-round curves and InstMatt's IMQ; ``runner`` scores whole datasets and ``complexity`` measures models.

Example:
    >>> import numpy as np
    >>> from mattekit.evaluation.metrics import evaluate
    >>> evaluate(np.zeros((4, 4), np.uint8), np.full((4, 4), 255, np.uint8))["sad"]
    0.016
"""
