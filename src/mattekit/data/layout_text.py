"""Sentences that name one person of a scene by its layout: "the person on the left", "the smallest person".

DFIMat trains with a text per person (its SMPMat texts were written by GPT-4; Jiao et al., ACCV 2024, arXiv
2410.09788, §4). Without a language model, the sentences here come from the instance alphas alone and always
single the person out: by horizontal order of the alpha-weighted centres (left / right / middle of three / n-th
from the left or right) and by area (largest / smallest), each only when it is unique. ``describe`` lists them and
``layout_text`` draws one.

Example:
    >>> import numpy as np
    >>> alphas = np.zeros((3, 10, 30), np.float32)
    >>> alphas[0, :, 0:5] = 1; alphas[1, :, 10:20] = 1; alphas[2, 2:6, 24:28] = 1
    >>> for sentence in describe(alphas, 1):
    ...     print(sentence)
    the person in the middle
    the second person from the left
    the second person from the right
    the largest person
"""

from __future__ import annotations

import numpy as np

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")


def describe(alphas: np.ndarray, index: int) -> list[str]:
    """Every layout sentence that names instance ``index`` of ``alphas`` (K, H, W) and no other."""
    count = alphas.shape[0]
    if count == 1:
        return ["the person"]
    areas = alphas.reshape(count, -1).sum(1)
    columns = np.arange(alphas.shape[2], dtype=np.float64)
    centres = (alphas.sum(1) * columns).sum(1) / np.maximum(areas, 1e-6)
    rank = int((centres < centres[index]).sum())
    out = []
    if rank == 0:
        out.append("the person on the left")
    elif rank == count - 1:
        out.append("the person on the right")
    elif count == 3:
        out.append("the person in the middle")
    if 0 < rank < count - 1:
        out.append(f"the {ORDINALS[rank]} person from the left")
        out.append(f"the {ORDINALS[count - 1 - rank]} person from the right")
    if areas[index] == areas.max() and (areas == areas.max()).sum() == 1:
        out.append("the largest person")
    if areas[index] == areas.min() and (areas == areas.min()).sum() == 1:
        out.append("the smallest person")
    return out


def layout_text(alphas: np.ndarray, index: int, rng: np.random.Generator) -> str:
    """One of ``describe``'s sentences, drawn with ``rng``."""
    options = describe(alphas, index)
    return options[int(rng.integers(len(options)))]
