"""Collaborative-matting merge rules of GFM (Li et al., "Bridging Composite and Real", IJCV 2022,
arXiv:2010.16188, §3.3), for numpy arrays and torch tensors alike.

Each RoSTa form splits alpha into a glance map and a focus map; its rule joins them again:
- TT: the glance is a trimap with values {0, 0.5, 1}; the focus alpha replaces the transition (0.5).
- FT: the glance is the certain foreground; the focus alpha is added.
- BT: the glance is the foreground dilated over the transition; the focus alpha is subtracted.

Example:
    >>> import numpy as np
    >>> merge_tt(np.array([0.0, 0.5, 1.0]), np.array([0.9, 0.3, 0.2])).tolist()
    [0.0, 0.3, 1.0]
    >>> merge_ft(np.array([1.0, 0.0]), np.array([0.5, 0.25])).tolist()
    [1.0, 0.25]
    >>> merge_bt(np.array([1.0, 1.0]), np.array([0.0, 0.75])).tolist()
    [1.0, 0.25]
"""


def merge_tt(trimap, focus):
    """Alpha = focus inside the transition (trimap == 0.5), the trimap's own 0 or 1 elsewhere."""
    transition = trimap == 0.5
    return trimap * ~transition + focus * transition


def merge_ft(glance, focus):
    """Alpha = glance + focus, clipped to [0, 1]."""
    return (glance + focus).clip(0.0, 1.0)


def merge_bt(glance, focus):
    """Alpha = glance - focus, clipped to [0, 1]."""
    return (glance - focus).clip(0.0, 1.0)


MERGE_RULES = {"tt": merge_tt, "ft": merge_ft, "bt": merge_bt}
