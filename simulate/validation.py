"""Argument checks shared by every public function; they run before any numba code."""

import numbers

import numpy as np

#: Largest allowed |sum(p) - 1| when ``normalize=False``.
SUM_TOLERANCE = 1e-9
_MAX_KEY = 2**63


def as_distribution(p, name="p", *, normalize=False):
    """Return ``p`` as a fresh contiguous float64 probability vector, or raise.

    Raises TypeError for non-numeric input and ValueError naming the first offending entry
    for a wrong shape, an empty array, NaN/inf, a negative entry, or a sum off 1 by more
    than ``SUM_TOLERANCE`` (unless ``normalize`` is true, which rescales instead).
    """
    if isinstance(p, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(p).__name__}")
    try:
        arr = np.asarray(p)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must have a real numeric dtype, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a distribution needs at least one item")
    arr = np.array(arr, dtype=np.float64, order="C", copy=True)
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] = {float(arr[i])!r} is not finite")
    neg = arr < 0
    if neg.any():
        i = int(np.argmax(neg))
        raise ValueError(f"{name}[{i}] = {float(arr[i])!r} is negative")
    total = float(np.sum(arr))
    if normalize:
        if not total > 0:
            raise ValueError(f"{name} sums to {total!r}; cannot normalize")
        arr /= total
    elif abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(
            f"{name} sums to {total!r}, not 1 (tolerance {SUM_TOLERANCE}); "
            "pass normalize=True to rescale"
        )
    return arr


def as_pair(p, q, *, normalize=False):
    """Validate two distributions over the same item set."""
    p = as_distribution(p, "p", normalize=normalize)
    q = as_distribution(q, "q", normalize=normalize)
    if p.shape != q.shape:
        raise ValueError(f"p and q have different lengths: {p.size} and {q.size}")
    return p, q


def _is_int(x):
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def as_seed(seed):
    """A seed is an int in [0, 2**64); returned as np.uint64."""
    if not _is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r} of type {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must lie in [0, 2**64), got {seed}")
    return np.uint64(seed)


def as_key_array(key, name="key"):
    """Keys and indices are ints in [0, 2**63); returned as a uint64 array (0-d for a scalar)."""
    if _is_int(key):
        key = int(key)
        if not 0 <= key < _MAX_KEY:
            raise ValueError(f"{name} must lie in [0, 2**63), got {key}")
        return np.asarray(key, dtype=np.uint64)
    arr = np.asarray(key)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an int or an array of ints, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or int(arr.max()) >= _MAX_KEY):
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise ValueError(f"{name} entries must lie in [0, 2**63), got {bad}")
    return arr.astype(np.uint64)


def as_count(value, name, *, minimum=1):
    """A positive (or >= minimum) Python int, e.g. a number of trials."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def as_choice(value, name, choices):
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value
