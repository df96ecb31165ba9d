"""Focus: the alpha inside a trimap's transition, from a sparse matting Laplacian solved by preconditioned CG.

The Laplacian joins two kinds of affinity:
- local: the closed-form matting Laplacian of Levin et al. (pymatting's ``cf_laplacian``), which follows colour
  lines in 3x3 windows and keeps edges sharp;
- non-local: a KNN graph in (colour, position) space as in KNN matting (Chen et al.), which lets a hair strand or
  a hole take its alpha from similar colours further away, where windows alone leak.
Only pixels in a margin around the transition enter the system, so its size follows the transition, not the image.
``solve_focus`` runs at a working resolution and upsamples the result with a guided filter (edge-aware), so a
large photo costs about what its downscaled copy does.

Example:
    >>> import numpy as np
    >>> image = np.zeros((20, 20, 3), np.uint8); image[:, 10:] = 255
    >>> trimap = np.full((20, 20), 128, np.uint8); trimap[:, :3] = 0; trimap[:, -3:] = 255
    >>> alpha = solve_focus(image, trimap)
    >>> bool(alpha[:, :9].max() < 0.05 and alpha[:, 11:].min() > 0.95)
    True
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.sparse
from pymatting import cf_laplacian, cg, ichol
from scipy.spatial import cKDTree

from mattekit.matting.merge import merge_tt
from mattekit.matting.trimap import BACKGROUND, FOREGROUND, UNKNOWN, disk, trimap_levels

# (neighbours, weight of the spatial coordinates) per KNN pass, as in KNN matting.
KNN_PASSES = ((20, 2.0), (10, 0.1))


def knn_laplacian(image: np.ndarray, pixels: np.ndarray) -> scipy.sparse.csr_matrix:
    """A symmetric KNN Laplacian over the flat indices ``pixels`` of ``image`` (float HxWx3 in [0, 1]).

    Features are RGB plus x, y scaled to [0, 1]; edges have weight 1; the result, (D - W) divided by the mean
    degree, has the full image's size and is zero outside ``pixels``.
    """
    height, width = image.shape[:2]
    ys, xs = np.divmod(pixels, width)
    colours = image.reshape(-1, 3)[pixels]
    rows, cols = [], []
    for k, spatial in KNN_PASSES:
        k = min(k, len(pixels) - 1)
        if k < 1:
            break
        features = np.column_stack([colours, spatial * xs / max(width - 1, 1), spatial * ys / max(height - 1, 1)])
        _, neighbours = cKDTree(features).query(features, k=k + 1, workers=-1)
        rows.append(np.repeat(pixels, k))
        cols.append(pixels[neighbours[:, 1:].ravel()])
    n = height * width
    if not rows:
        return scipy.sparse.csr_matrix((n, n))
    i, j = np.concatenate(rows), np.concatenate(cols)
    weights = scipy.sparse.csr_matrix((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), (n, n))
    weights.data[:] = 1.0  # duplicate edges count once
    degree = np.asarray(weights.sum(axis=1)).ravel()
    return (scipy.sparse.diags(degree) - weights) / degree[pixels].mean()


def solve_laplacian(
    image: np.ndarray, trimap: np.ndarray, knn_weight: float = 0.05, epsilon: float = 1e-7
) -> np.ndarray:
    """Alpha (float64 HxW) of ``image`` (float HxWx3 in [0, 1]) for a uint8 trimap, at full resolution.

    Solves L_U x = -R a_K for the unknown pixels, L = closed-form + ``knn_weight`` x KNN Laplacian.
    """
    is_fg, is_unknown = trimap == FOREGROUND, trimap == UNKNOWN
    alpha = is_fg.astype(np.float64)
    if not is_unknown.any():
        return alpha
    # Only the transition and a margin of known pixels around it take part.
    near = cv2.dilate(is_unknown.astype(np.uint8), disk(3)) > 0
    top, bottom = np.flatnonzero(near.any(axis=1))[[0, -1]]
    left, right = np.flatnonzero(near.any(axis=0))[[0, -1]]
    box = (slice(top, bottom + 1), slice(left, right + 1))
    crop, unknown, fg, near = image[box], is_unknown[box].ravel(), is_fg[box].ravel(), near[box]
    laplacian = cf_laplacian(crop, epsilon=epsilon, radius=1, is_known=~unknown)
    if knn_weight:
        laplacian = laplacian + knn_weight * knn_laplacian(crop, np.flatnonzero(near))
    laplacian = laplacian.tocsr()
    known = ~unknown
    l_u = laplacian[unknown][:, unknown].tocsc()
    rhs = -(laplacian[unknown][:, known] @ fg[known].astype(np.float64))
    solution = alpha[box].ravel()
    solution[unknown] = cg(l_u, rhs, M=ichol(l_u), rtol=1e-7, maxiter=5000)
    alpha[box] = np.clip(solution, 0.0, 1.0).reshape(crop.shape[:2])
    return alpha


def _downscale_trimap(trimap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A trimap at ``size`` (W, H): a pixel stays known only if every source pixel under it has that label."""
    fg = cv2.resize((trimap == FOREGROUND).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    bg = cv2.resize((trimap == BACKGROUND).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    small = np.full(fg.shape, UNKNOWN, np.uint8)
    small[fg >= 0.999] = FOREGROUND
    small[bg >= 0.999] = BACKGROUND
    return small


def solve_focus(
    image: np.ndarray, trimap: np.ndarray, work_pixels: int = 600_000, knn_weight: float = 0.05
) -> np.ndarray:
    """Alpha (float32 HxW in [0, 1]) of a uint8 RGB ``image`` for a uint8 0/128/255 ``trimap``.

    Images over ``work_pixels`` are solved downscaled; the transition is then upsampled with a guided filter on
    the full image, and known pixels keep their trimap value (the TT merge rule).
    """
    height, width = trimap.shape
    scale = min(1.0, (work_pixels / (height * width)) ** 0.5)
    if scale == 1.0:
        alpha = solve_laplacian(image.astype(np.float64) / 255.0, trimap, knn_weight)
    else:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
        alpha = solve_laplacian(small, _downscale_trimap(trimap, size), knn_weight)
        alpha = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        radius = max(1, round(1.0 / scale))
        alpha = cv2.ximgproc.guidedFilter(image, alpha, radius, 1e-4 * 255**2)
    return merge_tt(trimap_levels(trimap), np.clip(alpha, 0.0, 1.0).astype(np.float32))
