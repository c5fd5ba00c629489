"""Rows of distributions for the one-party samplers on numpy input, checked in one pass (torch
tensors go to :mod:`coupling.simulate._torch`, imported by the callers only when they hold one).

Validation stays :func:`coupling.simulate.validation.as_distribution`'s: the one-pass summary of a
row (how many entries are NaN, infinite or negative, and its sum) only decides that a row is
clearly fine (:func:`coupling.simulate.validation.clearly_fine`); any other row goes through
``as_distribution``, which raises naming the problem (or accepts, and rescales, a sum that is
within its dtype's tolerance).
"""

import numpy as np
from coupling.simulate import _kernels
from coupling.simulate.validation import SUM_TOLERANCE, as_distribution, clearly_fine


def check_shapes(shape, key_shape):
    """p is one distribution (V,) with keys of any shape, or rows (R, V) with one key each."""
    shape, key_shape = tuple(shape), tuple(key_shape)
    if len(shape) not in (1, 2):
        raise ValueError(f"p must be a vector (V,) or a matrix of rows (R, V), got shape {shape}")
    if shape[-1] == 0 or (len(shape) == 2 and shape[0] == 0):
        raise ValueError(f"p is empty (shape {shape}): a distribution needs at least one item")
    if len(shape) == 2 and key_shape != shape[:1]:
        raise ValueError(
            f"p of shape {shape} holds {shape[0]} distributions, so key must have shape "
            f"({shape[0]},), one key per row; got shape {key_shape} (a single distribution "
            "must be one-dimensional)"
        )


def as_rows(p, normalize, key_shape):
    """``(rows, two_d)``: the distributions as a C-contiguous float64 (R, V) array (a view of
    ``p`` when it is one already and needs no rescaling) and whether ``p`` was a matrix;
    ``key_shape`` must fit (see :func:`check_shapes`)."""
    if isinstance(p, np.ndarray) and p.dtype == np.float64 and p.flags.c_contiguous:
        check_shapes(p.shape, key_shape)
        rows = p.reshape(-1, p.shape[-1])
        totals = rows.sum(axis=1)  # per row the same pairwise sum as np.sum(row)
        fine = _kernels.count_invalid(rows.reshape(-1)) == 0 and all(
            clearly_fine(0, t, SUM_TOLERANCE, normalize) for t in totals
        )
        if fine:
            return (rows / totals[:, None] if normalize else rows), p.ndim == 2
    if isinstance(p, (str, bytes)):
        raise TypeError(f"p must be an array of numbers, got {type(p).__name__}")
    try:
        shape = np.shape(p)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"p must be an array of numbers: {exc}") from None
    check_shapes(shape, key_shape)
    if len(shape) == 1:
        return as_distribution(p, normalize=normalize)[None], False
    rows = [as_distribution(row, f"p[{r}]", normalize=normalize) for r, row in enumerate(p)]
    return np.stack(rows), True
