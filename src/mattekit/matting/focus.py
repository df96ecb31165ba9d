"""Focus: the alpha inside a trimap's transition, from a sparse matting Laplacian solved by preconditioned CG.

Two terms meet in one sparse system:
- smoothness: the closed-form matting Laplacian of Levin et al. (``unknown_rows``: only its rows of unknown
  pixels, the ones the system needs), which follows colour lines in 3x3 windows and keeps edges sharp, but only
  propagates the known colours locally;
- data: sampling estimates with confidences (``mattekit.matting.sampling``), which bring colour evidence from
  further along the boundary where foreground and background colours repeat across a wide band.
Before solving, unknown pixels whose colour nearly equals that of a known pixel close by take that pixel's label
(the known-region expansion of Shared Matting, Gastal & Oliveira 2010, pymatting's implementation), which keeps
wide transitions from being solved where they are plainly foreground or background.
Only pixels in a margin around the transition enter the system, so its size follows the transition, not the image.
``solve_focus`` runs at a working resolution and upsamples the result with a guided filter (edge-aware), so a
large photo costs about what its downscaled copy does; the filter runs in bands of rows (``guided_upsample``),
so its memory stays bounded whatever the image size.

Example:
    >>> import numpy as np
    >>> image = np.zeros((20, 20, 3), np.uint8); image[:, 10:] = 255
    >>> trimap = np.full((20, 20), 128, np.uint8); trimap[:, :3] = 0; trimap[:, -3:] = 255
    >>> alpha = solve_focus(image, trimap)
    >>> bool(alpha[:, :9].max() < 0.05 and alpha[:, 11:].min() > 0.95)
    True
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from mattekit import kernels
from mattekit.matting.merge import merge_tt
from mattekit.matting.sampling import sample_alpha
from mattekit.matting.trimap import BACKGROUND, FOREGROUND, UNKNOWN, disk, trimap_levels

SAMPLE_WEIGHT = 0.01  # weight of the sampling data term against the Laplacian
EXPANSION_RADIUS, EXPANSION_COLOUR = 10, 0.02  # pixels; RGB distance in [0, 1] units
SAMPLE_MARGIN = 15  # known pixels this close (in pixels) to the transition are drawn as colour samples


def expand_known(image: np.ndarray, trimap: np.ndarray, radius: int = EXPANSION_RADIUS,
                 colour: float = EXPANSION_COLOUR) -> np.ndarray:
    """``trimap`` with each unknown pixel labelled like the nearest known pixel within ``radius`` whose colour is
    within ``colour`` of its own (``image`` float HxWx3 in [0, 1]); other pixels keep their labels."""
    kernels.prepare()  # numba kernels: loaded when first needed
    from pymatting.alpha.estimate_alpha_sm import expand_trimap

    expanded = np.select([trimap == FOREGROUND, trimap == BACKGROUND], [FOREGROUND, BACKGROUND], UNKNOWN)
    expanded = expanded.astype(np.uint8)
    if (expanded == UNKNOWN).any():  # only the unknown pixels and the known ones within reach of them take part
        box = around(expanded == UNKNOWN, radius)
        levels = (trimap[box] / 255.0).astype(np.float32)
        labels = levels.copy()
        expand_trimap(labels, levels, np.ascontiguousarray(image[box], dtype=np.float32), radius, colour)
        expanded[box] = np.select([labels == 1.0, labels == 0.0], [FOREGROUND, BACKGROUND], UNKNOWN)
    return expanded


def around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The (rows, columns) slices of the bounding box of the set pixels of ``mask`` (at least one), grown by
    ``margin`` on each side and clipped to the array.

    >>> mask = np.zeros((10, 10), bool); mask[4, 5:7] = True
    >>> around(mask, 2)
    (slice(2, 7, None), slice(3, 9, None))
    """
    rows, columns = np.flatnonzero(mask.any(axis=1)).tolist(), np.flatnonzero(mask.any(axis=0)).tolist()
    return (slice(max(0, rows[0] - margin), min(mask.shape[0], rows[-1] + 1 + margin)),
            slice(max(0, columns[0] - margin), min(mask.shape[1], columns[-1] + 1 + margin)))


WINDOW_CHUNK = 16_384  # 3x3 windows per step of ``unknown_rows`` (bounds its temporaries to about 40 MB)
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]  # a 3x3 window's pixels around its centre
# where pixel b of a window lies relative to pixel a of it, as an index into a row's 5x5 neighbourhood
_PAIR_SLOT = np.array([[(yb - ya + 2) * 5 + xb - xa + 2 for yb, xb in _OFFSETS] for ya, xa in _OFFSETS])


def unknown_rows(image: np.ndarray, unknown: np.ndarray, epsilon: float = 1e-7) -> scipy.sparse.csr_matrix:
    """The rows of the ``unknown`` pixels (bool HxW; rows in row-major order, columns every pixel) of the
    closed-form matting Laplacian of ``image`` (float HxWx3) with 3x3 windows: Levin, Lischinski and Weiss, "A
    Closed-Form Solution to Natural Image Matting", TPAMI 2008, eq. 12,
    L_ij = sum over windows w holding i and j of δ_ij - (1 + (I_i - μ_w)ᵀ (Σ_w + ε/9 I₃)⁻¹ (I_j - μ_w)) / 9,
    over the windows that lie wholly inside the image. Only the windows holding an unknown pixel are computed,
    so the cost follows the unknown pixels, not the image. Each row keeps its 5x5 neighbourhood inside the image.

    >>> image = np.random.default_rng(0).random((6, 7, 3)); unknown = np.zeros((6, 7), bool); unknown[2:4, 3] = True
    >>> rows = unknown_rows(image, unknown)
    >>> rows.shape, bool(np.allclose(rows.sum(axis=1), 0)), bool(np.allclose(rows[:, [17, 24]].toarray(),
    ...                                                                     rows[:, [17, 24]].toarray().T))
    ((2, 42), True, True)
    """
    height, width = unknown.shape
    inside = np.zeros((height, width), bool)
    inside[1:-1, 1:-1] = True
    centres = np.flatnonzero(inside & (cv2.dilate(unknown.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0))
    count = int(unknown.sum())
    row_of = np.full(height * width, -1)
    row_of[unknown.ravel()] = np.arange(count)
    colours = np.asarray(image, np.float64).reshape(-1, 3)
    steps = np.array([dy * width + dx for dy, dx in _OFFSETS])
    sums = np.zeros(count * 25)  # row r's 5x5 neighbourhood at 25 r ... 25 r + 24
    for start in range(0, len(centres), WINDOW_CHUNK):
        pixels = centres[start:start + WINDOW_CHUNK, None] + steps  # (n, 9)
        centred = colours[pixels]
        centred -= centred.mean(axis=1, keepdims=True)
        covariance = (np.einsum("nkc,nkd->ncd", centred, centred) + epsilon * np.eye(3)) / 9
        spread = np.linalg.inv(covariance)
        values = np.eye(9) - (1 + np.matmul(np.matmul(centred, spread), centred.transpose(0, 2, 1))) / 9
        rows = np.broadcast_to(row_of[pixels][:, :, None], values.shape)
        wanted = rows >= 0
        slots = rows[wanted] * 25 + np.broadcast_to(_PAIR_SLOT, values.shape)[wanted]
        sums += np.bincount(slots, values[wanted], minlength=sums.size)
    row = np.repeat(np.arange(count), 25)
    y, x = np.divmod(np.flatnonzero(unknown.ravel())[row], width)
    dy, dx = np.divmod(np.tile(np.arange(25), count), 5)
    y, x = y + dy - 2, x + dx - 2
    valid = (y >= 0) & (y < height) & (x >= 0) & (x < width)
    return scipy.sparse.csr_matrix((sums[valid], (row[valid], (y * width + x)[valid])), shape=(count, height * width))


def solve_laplacian(image: np.ndarray, trimap: np.ndarray, sample_weight: float = SAMPLE_WEIGHT,
                    epsilon: float = 1e-7) -> np.ndarray:
    """Alpha (float64 HxW) of ``image`` (float HxWx3 in [0, 1]) for a uint8 trimap, at full resolution.

    Unknown pixels are first narrowed by ``expand_known``. Then the solver minimises
    a^T L a + ``sample_weight`` sum_U c (a - a_s)^2 over the unknown pixels U, where L is the
    closed-form Laplacian and a_s, c the sampling estimates and their
    confidences (``mattekit.matting.sampling``), drawn from known pixels within ``SAMPLE_MARGIN`` of U.
    """
    trimap = expand_known(image, trimap)
    is_fg, is_unknown = trimap == FOREGROUND, trimap == UNKNOWN
    alpha = is_fg.astype(np.float64)
    if not is_unknown.any():
        return alpha
    # Only the transition and the known pixels around it take part.
    near = cv2.dilate(is_unknown.astype(np.uint8), disk(SAMPLE_MARGIN)) > 0
    box = around(near, 0)
    crop, crop_trimap, near = image[box], trimap[box], near[box]
    unknown, fg = is_unknown[box].ravel(), is_fg[box].ravel()
    rows = unknown_rows(crop, unknown.reshape(crop.shape[:2]), epsilon)
    known = ~unknown
    l_u = rows[:, unknown]
    rhs = -(rows[:, known] @ fg[known].astype(np.float64))
    if sample_weight:
        estimate, confidence = sample_alpha(crop, crop_trimap, usable=near)
        l_u = l_u + scipy.sparse.diags(sample_weight * confidence)
        rhs = rhs + sample_weight * confidence * estimate
    solution = alpha[box].ravel()
    solution[unknown] = _solve(l_u.tocsc(), rhs)
    alpha[box] = np.clip(solution, 0.0, 1.0).reshape(crop.shape[:2])
    return alpha


def _solve(matrix: scipy.sparse.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """x with matrix @ x = rhs: preconditioned conjugate gradients, or a direct solve where CG stalls."""
    pymatting = kernels.prepare()
    cg, ichol = pymatting.cg, pymatting.ichol
    if not rhs.any():
        return np.zeros_like(rhs)
    try:
        with redirect_stdout(io.StringIO()):  # pymatting prints a warning each time it retries the factorisation
            preconditioner = ichol(matrix)
        return cg(matrix, rhs, M=preconditioner, rtol=1e-7, maxiter=2000)
    except ValueError:  # no convergence, e.g. a nearly singular system on a flat image
        return scipy.sparse.linalg.spsolve(matrix, rhs)


def _downscale_trimap(trimap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A trimap at ``size`` (W, H): a pixel stays known only if every source pixel under it has that label."""
    fg = cv2.resize((trimap == FOREGROUND).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    bg = cv2.resize((trimap == BACKGROUND).astype(np.float32), size, interpolation=cv2.INTER_AREA)
    small = np.full(fg.shape, UNKNOWN, np.uint8)
    small[fg >= 0.999] = FOREGROUND
    small[bg >= 0.999] = BACKGROUND
    return small


GUIDED_BAND_ROWS = 512  # rows per band of the full-resolution guided filter


def guided_upsample(image: np.ndarray, alpha: np.ndarray, radius: int, eps: float,
                    band_rows: int = GUIDED_BAND_ROWS) -> np.ndarray:
    """OpenCV's guided filter of ``alpha`` (float32 HxW) guided by ``image`` (uint8 HxWx3), in bands of
    ``band_rows`` rows that overlap by twice the radius (the filter's reach), so each band's rows equal the
    whole-image filter's and the temporaries hold one band, not the image.

    >>> rng = np.random.default_rng(0)
    >>> image, alpha = rng.integers(0, 256, (50, 9, 3), np.uint8), rng.random((50, 9), np.float32)
    >>> whole = cv2.ximgproc.guidedFilter(image, alpha, 2, 1.0)
    >>> bool(np.abs(guided_upsample(image, alpha, 2, 1.0, band_rows=7) - whole).max() < 1e-5)
    True
    """
    reach = 2 * radius + 1
    out = np.empty_like(alpha)
    for top in range(0, alpha.shape[0], band_rows):
        bottom = min(top + band_rows, alpha.shape[0])
        lo, hi = max(0, top - reach), min(alpha.shape[0], bottom + reach)
        band = cv2.ximgproc.guidedFilter(image[lo:hi], alpha[lo:hi], radius, eps)
        out[top:bottom] = band[top - lo:bottom - lo]
    return out


def solve_focus(
    image: np.ndarray, trimap: np.ndarray, work_pixels: int = 600_000, sample_weight: float = SAMPLE_WEIGHT
) -> np.ndarray:
    """Alpha (float32 HxW in [0, 1]) of a uint8 RGB ``image`` for a uint8 0/128/255 ``trimap``.

    Images over ``work_pixels`` are solved downscaled; the transition is then upsampled with a guided filter on
    the image around the transition (within the filter's reach of it), and known pixels keep their trimap value (the
    TT merge rule).
    """
    height, width = trimap.shape
    scale = min(1.0, (work_pixels / (height * width)) ** 0.5)
    if scale == 1.0:
        alpha = solve_laplacian(image.astype(np.float64) / 255.0, trimap, sample_weight)
    else:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
        alpha = solve_laplacian(small, _downscale_trimap(trimap, size), sample_weight)
        alpha = cv2.resize(alpha.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        radius = max(1, round(1.0 / scale))
        if (trimap == UNKNOWN).any():  # the filter reaches 2 radii: beyond that the known pixels keep their label
            box = around(trimap == UNKNOWN, 2 * radius + 1)
            alpha[box] = guided_upsample(np.ascontiguousarray(image[box]), np.ascontiguousarray(alpha[box]), radius,
                                         1e-4 * 255**2)
    return merge_tt(trimap_levels(trimap), np.clip(alpha, 0.0, 1.0, dtype=np.float32))
