"""Numba kernel behind Conn's level map: every threshold's components from one union-find sweep.

The step sets S_i = {reached >= i} are nested, so the components of all of them come from one pass over the
levels, highest first (the component tree of ``reached``, as in Najman & Couprie, "Building the component tree
in quasi-linear time", IEEE TIP 2006). The nodes are runs: maximal horizontal runs of pixels with one value of
``reached`` (>= 1). Two runs touch when they are side by side in a row or overlap in neighbouring rows
(4-connectivity); they are in one component of S_i from level min(their values) down. At each level the runs of
that value are added, then the touching pairs whose smaller value it is are joined. A union records the child
root, its parent root and its level, so following these links from a run while their level is >= i leads to
its component's root in S_i. After each level the largest component is known (a component only grows, so the
largest is tracked at each union; ties go to the smaller scan index of a first pixel), and its root R_i is kept.

A pixel's index is the number of the nested Ω_1 ⊇ Ω_2 ⊇ ... holding it (see ``connectivity.first_exit_levels``),
which the links give without labelling: a root R_i holds up to i, and a child joined at level L holds
min(its parent's number, L), or its own if larger. The unions, replayed last to first, give every run's number.

Compiled (explicit signature, numba's cache) when this module is first imported; ``mattekit.kernels`` says so.

Example:
    >>> import numpy as np
    >>> first_exit_levels(np.array([[2, 2, 0, 1]], np.uint8), 2, True, False).tolist()
    [[2, 2, 0, 0]]
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _runs(reached, steps):
    """Maximal runs of one value >= 1 in each row: row, start, stop (exclusive), value; the first run of each row
    (``row_first[r]``..``row_first[r + 1]``)."""
    height, width = reached.shape
    row, start, stop, value = (np.empty(reached.size, np.int32), np.empty(reached.size, np.int32),
                               np.empty(reached.size, np.int32), np.empty(reached.size, np.int32))  # pages used only
    row_first = np.empty(height + 1, np.int32)
    count = 0
    for r in range(height):
        row_first[r] = count
        line = reached[r]
        c = 0
        while c < width:
            level = min(line[c], steps)
            end = c + 1
            while end < width and min(line[end], steps) == level:
                end += 1
            if level > 0:
                row[count], start[count], stop[count], value[count] = r, c, end, level
                count += 1
            c = end
    row_first[height] = count
    return row[:count], start[:count], stop[:count], value[:count], row_first


@njit(cache=True)
def _touching(start, stop, value, row_first):
    """Pairs of runs that touch (side by side, or overlapping in neighbouring rows) and the level they join at."""
    height = row_first.size - 1
    capacity = 3 * start.size + 1
    left, right, level = np.empty(capacity, np.int32), np.empty(capacity, np.int32), np.empty(capacity, np.int32)
    count = 0
    for r in range(height):
        for k in range(row_first[r], row_first[r + 1] - 1):
            if stop[k] == start[k + 1]:
                left[count], right[count], level[count] = k, k + 1, min(value[k], value[k + 1])
                count += 1
        if r + 1 == height:
            break
        a, b = row_first[r], row_first[r + 1]  # two pointers over this row's runs and the next row's
        while a < row_first[r + 1] and b < row_first[r + 2]:
            if start[a] < stop[b] and start[b] < stop[a]:
                left[count], right[count], level[count] = a, b, min(value[a], value[b])
                count += 1
            if stop[a] < stop[b]:
                a += 1
            else:
                b += 1
    return left[:count], right[:count], level[:count]


@njit(cache=True)
def _by_level(levels, steps):
    """Indices of ``levels`` grouped by level from ``steps`` down (stable); level v at starts[v]..starts[v - 1]."""
    counts = np.zeros(steps + 2, np.int64)
    for level in levels:
        counts[level] += 1
    starts = np.zeros(steps + 2, np.int64)
    for level in range(steps - 1, -1, -1):
        starts[level] = starts[level + 1] + counts[level + 1]
    order = np.empty(levels.size, np.int32)
    fill = starts.copy()
    for index in range(levels.size):
        order[fill[levels[index]]] = index
        fill[levels[index]] += 1
    return order, starts


@njit(inline="always")
def _find(parent, x):
    """The root of x, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(inline="always")
def _below(link, joined, x, level):
    """The root, in S_level, of the component holding x (x in S_level): links followed while joined >= level."""
    while link[x] >= 0 and joined[x] >= level:
        x = link[x]
    return x


@njit("uint8[:, ::1](uint8[:, ::1], int64, boolean, boolean)", cache=True)
def first_exit_levels(reached, steps, skip_empty, column_major):
    """The level index of every pixel, as ``connectivity.first_exit_levels`` defines it."""
    height = reached.shape[0]
    row, start, stop, value, row_first = _runs(reached, steps)
    left, right, joins = _touching(start, stop, value, row_first)
    run_order, run_starts = _by_level(value, steps)
    pair_order, pair_starts = _by_level(joins, steps)
    runs = value.size
    parent = np.arange(runs).astype(np.int32)
    link = np.full(runs, -1, np.int32)  # the parent root a root was joined to, or -1
    joined = np.zeros(runs, np.uint8)  # the level of that union
    size = (stop - start).astype(np.int64)
    first = start * height + row if column_major else row * reached.shape[1] + start.astype(np.int64)
    unions = np.empty(max(runs, 1), np.int32)  # the children, in the order of their unions
    count = 0
    roots = np.full(steps + 1, -1, np.int64)  # R_i: the root of the largest component of S_i
    best_size, best_first, best = 0, 0, -1
    for level in range(steps, 0, -1):
        for position in range(run_starts[level], run_starts[level - 1]):
            run = run_order[position]
            if size[run] > best_size or (size[run] == best_size and first[run] < best_first):
                best_size, best_first, best = size[run], first[run], run
        for position in range(pair_starts[level], pair_starts[level - 1]):
            a, b = _find(parent, left[pair_order[position]]), _find(parent, right[pair_order[position]])
            if a == b:
                continue
            child, root = (a, b) if size[b] >= size[a] else (b, a)
            parent[child], link[child], joined[child] = root, root, level
            size[root] += size[child]
            first[root] = min(first[root], first[child])
            unions[count] = child
            count += 1
            if size[root] > best_size or (size[root] == best_size and first[root] < best_first):
                best_size, best_first, best = size[root], first[root], root
        if best >= 0:
            roots[level] = _find(parent, best)
    depth, stays = 0, True
    for level in range(1, steps + 1):
        if roots[level] < 0:  # empty set: every later one is empty too
            stays = skip_empty
            break
        if level > 1 and _below(link, joined, roots[level], level - 1) != roots[level - 1]:
            stays = False  # Ω_level lies outside Ω_(level - 1): every pixel has its level
            break
        depth = level
    number = np.zeros(runs, np.uint8)
    for level in range(1, depth + 1):
        number[roots[level]] = level
    for index in range(count - 1, -1, -1):
        child = unions[index]
        number[child] = max(number[child], min(number[link[child]], joined[child]))
    out = np.full(reached.shape, steps if stays and depth == 0 else 0, np.uint8)
    for run in range(runs):
        out[row[run], start[run] : stop[run]] = steps if stays and number[run] == depth else number[run]
    return out
