"""Argument checks shared by every public function; they run before any numba code.

Each check returns the value converted (a float64 array, a Python int or float) or raises a
one-line TypeError (wrong type: types are checked exactly, so 10.7, True or "3" is never an
int) or ValueError (right type, wrong value) naming the argument.
"""

import functools
import math
import numbers
import os
import sys
from fractions import Fraction

import numpy as np

#: Floor of the allowed |sum(p) - 1| when ``normalize=False``; see :func:`sum_tolerance`.
SUM_TOLERANCE = 1e-9
#: Allowed |sum(p) - 1| per entry, in units of the input dtype's machine epsilon.
SUM_EPS_PER_ITEM = 1.0
#: ... but never looser than this: a vector 5 % away from summing to 1 is no distribution at any
#: precision (without the cap, n eps passes anything once n eps >= 1: bfloat16 past 128 items).
SUM_TOLERANCE_CAP = 0.05
_MAX_KEY = 2**63


def is_tensor(x):
    """Whether ``x`` is a torch tensor; never imports torch (without torch there are none)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def check_tensor_dtype(x, name, *, integer=False):
    """Refuse (TypeError) a tensor whose dtype is not real numbers (integers if ``integer``)."""
    wrong = x.dtype.is_complex or x.dtype is sys.modules["torch"].bool
    if wrong or (integer and x.dtype.is_floating_point):
        kind = "an int or an integer tensor" if integer else "a tensor of real numbers"
        raise TypeError(f"{name} must be {kind}, got dtype {x.dtype}")


def _host_array(p, name):
    """``(array, dtype)``: ``p`` as a numpy array and the dtype its values were computed in
    (a tensor's own, bfloat16 say, though it arrives here as float64)."""
    if is_tensor(p):
        check_tensor_dtype(p, name)
        torch = sys.modules["torch"]
        return p.detach().to(device="cpu", dtype=torch.float64).numpy(), p.dtype
    if isinstance(p, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(p).__name__}")
    try:
        arr = np.asarray(p)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must have a real numeric dtype, got dtype {arr.dtype}")
    return arr, arr.dtype


def as_distribution(p, name="p", *, normalize=False):
    """Return ``p`` as a fresh contiguous float64 probability vector, or raise.

    ``p`` is array_like or a torch tensor (on any device, of any real dtype). Raises TypeError
    for non-numeric input and ValueError naming the first offending entry for a wrong shape,
    an empty array, NaN/inf, a negative entry, or a sum off 1 by more than
    :func:`sum_tolerance` of its dtype and length (unless ``normalize`` is true, which
    rescales instead). A sum off 1 by more than ``SUM_TOLERANCE`` but within the input's own
    rounding (a float32 softmax, say) is rescaled, so the float64 vector returned passes every
    later check.
    """
    arr, dtype = _host_array(p, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {tuple(arr.shape)}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a distribution needs at least one item")
    tolerance = sum_tolerance(dtype, arr.size)
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
    elif abs(total - 1.0) > tolerance:
        raise ValueError(
            f"{name} sums to {total!r}, not 1 (tolerance {tolerance:.3g}); "
            "pass normalize=True to rescale"
        )
    elif abs(total - 1.0) > SUM_TOLERANCE:
        arr /= total
    return arr


def sum_tolerance(dtype, n):
    """The allowed :math:`|\\sum_i p_i - 1|` for ``n`` entries of ``dtype``:
    ``max(SUM_TOLERANCE, min(SUM_EPS_PER_ITEM * n * eps, SUM_TOLERANCE_CAP))``, with ``eps``
    the dtype's machine epsilon (that of float64 for integer input, whose sum is exact).
    ``dtype`` is a numpy dtype or a torch one (bfloat16 included): the one rule of every
    sampler on either backend.

    Why n * eps: a distribution computed at that precision (a float32 softmax, say) is
    ``w_i / s`` with each entry rounded (relative error eps/2) and the normaliser ``s`` a sum of
    n rounded terms, off by at most (n - 1) eps/2 relatively (Higham, *Accuracy and Stability
    of Numerical Algorithms*, 2002, eq. 4.4); together at most n eps/2 away from 1. For float64
    and n below about 4.5 million the floor SUM_TOLERANCE = 1e-9 is the rule. The bound grows
    without limit in n, so it is capped at SUM_TOLERANCE_CAP = 0.05: a bfloat16 or float16
    softmax over a vocabulary (where n eps exceeds 1) is still refused when its sum is 5 % off,
    which no softmax's rounding explains (each entry rounded once leaves the sum within eps/2).

    Examples
    --------
    >>> sum_tolerance(np.float64, 10)
    1e-09
    >>> round(sum_tolerance(np.float32, 50_000), 6)  # a 50k-token float32 softmax
    0.00596
    >>> sum_tolerance(np.float16, 50_000)  # n eps = 48.8: capped
    0.05
    """
    bound = min(SUM_EPS_PER_ITEM * int(n) * _epsilon(dtype), SUM_TOLERANCE_CAP)
    return max(SUM_TOLERANCE, bound)


@functools.cache  # every distribution checked asks: a search asks about a million times
def _epsilon(dtype):
    """Machine epsilon of a numpy or torch dtype; float64's for integers (exact sums)."""
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(dtype, torch.dtype):
        return torch.finfo(dtype if dtype.is_floating_point else torch.float64).eps
    dtype = np.dtype(dtype)
    return float(np.finfo(dtype if dtype.kind == "f" else np.float64).eps)


def clearly_fine(bad, total, tolerance, normalize):
    """Whether a row with ``bad`` invalid entries (NaN, infinite, negative) summing to
    ``total`` needs no second look: none invalid and the sum far inside ``tolerance`` (or
    positive, when it is to be rescaled). Any other row goes to :func:`as_distribution`, which
    names its problem or accepts it. The one-pass checks of both backends use it; elementwise
    on arrays and tensors (the torch backend decides on the device and reads back only the
    flags).

    >>> bool(clearly_fine(0, 1.0 + 1e-12, 1e-9, False)), bool(clearly_fine(1, 1.0, 1e-9, False))
    (True, False)
    """
    in_range = total > 0 if normalize else abs(total - 1.0) <= tolerance / 2
    return (bad == 0) & in_range


def needs_rescale(total, normalize):
    """Whether an accepted row summing to ``total`` is divided by it: always when
    ``normalize``, else when it is off 1 by more than ``SUM_TOLERANCE`` (within its dtype's
    rounding, or it would have been refused), as :func:`as_distribution` does. Elementwise on
    arrays and tensors, like :func:`clearly_fine`."""
    return normalize | (abs(total - 1.0) > SUM_TOLERANCE)


def as_pair(p, q, *, normalize=False):
    """Validate two distributions over the same item set."""
    p = as_distribution(p, "p", normalize=normalize)
    q = as_distribution(q, "q", normalize=normalize)
    if p.shape != q.shape:
        raise ValueError(f"p and q have different lengths: {p.size} and {q.size}")
    return p, q


def as_fraction_pair(p, q):
    """``(p, q)`` as lists of Fractions when both are sequences of Fractions, checked exactly to
    be distributions over the same items (non-empty, same length, nonnegative, sum 1); None for
    any other input, which the caller checks as floats (:func:`as_pair`)."""
    if isinstance(p, (str, bytes)) or isinstance(q, (str, bytes)):
        return None
    try:
        p, q = list(p), list(q)
    except TypeError:  # not a sequence: as_pair names it
        return None
    if not all(isinstance(x, Fraction) for x in (*p, *q)):
        return None
    if not p or not q:
        raise ValueError(f"{'q' if p else 'p'} is empty: a distribution needs at least one item")
    if len(p) != len(q):
        raise ValueError(f"p and q have different lengths: {len(p)} and {len(q)}")
    for name, dist in (("p", p), ("q", q)):
        total = sum(dist)
        if min(dist) < 0 or total != 1:
            raise ValueError(
                f"{name} must be a distribution (nonnegative, sum 1); it has minimum "
                f"{min(dist)} and sum {total}"
            )
    return p, q


def is_int(x):
    """Whether ``x`` is an integer (a Python or numpy int), never a bool: what every count,
    seed and key validator accepts.

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(x, numbers.Integral) and not isinstance(x, (bool, np.bool_))


def as_seed(seed):
    """A seed is an int in [0, 2**64); returned as np.uint64."""
    if not is_int(seed):
        raise TypeError(f"seed must be an int, got {seed!r} of type {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must lie in [0, 2**64), got {seed}")
    return np.uint64(seed)


def check_key_range(name, low, high):
    """Refuse keys (or indices) whose least is ``low`` and greatest ``high`` (Python ints)
    unless all lie in [0, 2**63), naming the least if negative, else the greatest."""
    if low < 0 or high >= _MAX_KEY:
        raise ValueError(f"{name} entries must lie in [0, 2**63), got {low if low < 0 else high}")


def as_key_array(key, name="key"):
    """Keys and indices are ints in [0, 2**63); returned as a uint64 array (0-d for a scalar).

    An empty list or array of ints gives an empty array (and the samplers an empty result); a
    torch tensor is read to the host."""
    if is_int(key):
        key = int(key)
        if not 0 <= key < _MAX_KEY:
            raise ValueError(f"{name} must lie in [0, 2**63), got {key}")
        return np.asarray(key, dtype=np.uint64)
    if is_tensor(key):
        check_tensor_dtype(key, name, integer=True)
        key = key.detach().cpu().numpy()
    arr = np.asarray(key)
    if arr.size == 0 and arr.dtype.kind == "f" and not isinstance(key, np.ndarray):
        arr = arr.astype(np.int64)  # [] has no dtype of its own: numpy's default is float
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an int or an array of ints, got dtype {arr.dtype}")
    if arr.size:
        check_key_range(name, int(arr.min()), int(arr.max()))
    return arr.astype(np.uint64)


def as_count(value, name, *, minimum=1, maximum=None):
    """A Python int in [minimum, maximum] (positive by default), e.g. a number of trials.

    Only ints are accepted (numpy integers too): 10.7, True and "3" are TypeErrors, never
    rounded or parsed.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def as_real(value, name, low=None, high=None, *, open_low=False, open_high=False):
    """A finite Python float in [low, high] (either end open on request, either omitted).

    Ints and floats (numpy's too) are accepted; bools, strings and complex numbers are
    TypeErrors.

    Examples
    --------
    >>> as_real(1, "alpha", 0.0, open_low=True)
    1.0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type "
                        f"{type(value).__name__}")  # fmt: skip
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value < low or (open_low and value == low)):
        raise ValueError(f"{name} must be {'>' if open_low else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (open_high and value == high)):
        raise ValueError(f"{name} must be {'<' if open_high else '<='} {high}, got {value!r}")
    return value


def as_choice(value, name, choices):
    """``value`` if it is one of ``choices``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")
    return value


def available_memory():
    """Bytes of memory this machine can give a new allocation now: ``MemAvailable`` of
    /proc/meminfo (Linux), else the free physical pages of ``os.sysconf``; None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


#: How a command makes OpenMP's threads (torch's and numba's) wait: passively, after a short
#: spin. Spinning waiters starve each other once another process is busy (a verify pass of the
#: default model, 2 threads beside one busy process: 55 ms idle, 240-690 ms loaded, up to 38x
#: seen); passive waiting alone costs 45-60 % on an idle machine (80-90 ms); a 3,000-turn spin
#: first won back part of that in some runs (65-75 ms idle) and none in others (89 ms).
#: ``coupling bench --lm`` measures all three.
OPENMP_ENV = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}


def apply_openmp_policy(environ=None):
    """Set :data:`OPENMP_ENV` in ``environ`` (default ``os.environ``) unless the user chose a
    wait policy there; must run before torch (or numba's OpenMP layer) starts its threads."""
    environ = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" not in environ:
        environ["OMP_WAIT_POLICY"] = OPENMP_ENV["OMP_WAIT_POLICY"]
        environ.setdefault("GOMP_SPINCOUNT", OPENMP_ENV["GOMP_SPINCOUNT"])
    return environ


def _cpu_ticks(cpus):
    """(busy, total) jiffies summed over the CPUs numbered ``cpus``, from their per-CPU lines
    of /proc/stat (Linux)."""
    busy = total = 0
    with open("/proc/stat") as fh:
        for line in fh:
            name, *fields = line.split()
            if not (name.startswith("cpu") and name[3:].isdigit()):
                continue
            if int(name[3:]) in cpus:
                ticks = [int(x) for x in fields]
                idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
                busy, total = busy + sum(ticks) - idle, total + sum(ticks)
    return busy, total


def _affinity():
    """The CPU numbers this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def _cgroup_quota():
    """The cores a CPU quota allows this process's cgroup (v2 ``cpu.max`` or v1
    ``cpu.cfs_quota_us``), None without a quota."""
    for path, reader in (("/sys/fs/cgroup/cpu.max", lambda s: s.split()),
                         ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", None)):  # fmt: skip
        try:
            with open(path) as fh:
                text = fh.read().strip()
            if reader is not None:
                quota, period = reader(text)
            else:
                with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fh:
                    quota, period = text, fh.read().strip()
            if quota in ("max", "-1"):
                return None
            return max(1, math.ceil(int(quota) / int(period)))
        except (OSError, ValueError):
            continue
    return None


def usable_cores():
    """The cores this process may run on: its CPU affinity, capped by its cgroup's CPU quota
    (a container given 2 CPUs of a 64-core host gets 2)."""
    cores = len(_affinity())
    quota = _cgroup_quota()
    return max(1, min(cores, quota) if quota else cores)


def free_cores(sample_seconds=0.1):
    """Cores this process can use without competing: its usable cores less the work other
    processes keep busy on its CPUs now, at least 1.

    The busy share of the CPUs in this process's affinity is measured over
    ``sample_seconds`` of /proc/stat while it sleeps (so it counts only the others); where
    /proc/stat is missing, the 1-minute load average stands in. On a 2-core machine with one
    busy process this is 1: two threads that must share one free core with a spinning
    neighbour wait on each other (OpenMP barriers), a single thread does not.
    """
    import time

    cpus = _affinity()
    usable = usable_cores()
    try:
        busy0, total0 = _cpu_ticks(cpus)
        time.sleep(sample_seconds)
        busy1, total1 = _cpu_ticks(cpus)
        share = (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0
        busy = share * len(cpus)
    except (OSError, ValueError, IndexError):
        try:
            busy = os.getloadavg()[0]
        except OSError:
            busy = 0.0
    return max(1, min(usable, math.floor(usable - busy + 0.5)))


def _bytes_text(count):
    for unit, size in (("EiB", 2**60), ("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30),
                       ("MiB", 2**20)):  # fmt: skip
        if count >= size:
            return f"{count / size:,.1f} {unit}"
    return f"{count:,} bytes"


def check_memory(needed, what):
    """Refuse (ValueError) a computation needing ``needed`` bytes when the machine has less
    available (:func:`available_memory`), naming both figures; a no-op when it is unknown."""
    have = available_memory()
    if have is not None and needed > have:
        raise ValueError(
            f"{what} needs about {_bytes_text(needed)} of memory; "
            f"this machine has {_bytes_text(have)} available"
        )
