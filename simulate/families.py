"""Seeded families of distribution pairs (P, Q), each reporting its total variation distance.

Every family takes ``n`` and ``seed`` (keyword) plus its own parameters and returns a
:class:`DistributionPair`. Randomness comes from ``numpy.random.default_rng`` on a
``SeedSequence`` of (seed, family name), never from global state. :func:`check_params` checks a
family's arguments without building anything, so a sweep refuses a bad grid up front.
"""

import hashlib
import inspect
import math
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np
from coupling.simulate.exact import tv_distance
from coupling.simulate.validation import as_choice, as_count, as_distribution, as_pair, as_real
from scipy.special import softmax

__all__ = [
    "FAMILIES",
    "DistributionPair",
    "check_params",
    "dirichlet_pair",
    "from_npz",
    "kset_pair",
    "llm_softmax_pair",
    "make_pair",
    "max_swaps",
    "mixture_pair",
    "permuted_pair",
    "point_mass_pair",
    "zipf_pair",
]


class DistributionPair(NamedTuple):
    """Two distributions over the same n items, with provenance."""

    p: np.ndarray
    q: np.ndarray
    family: str
    params: dict
    D: float  #: total variation distance, exact for kset_pair


def _rng(seed, family):
    tag = int.from_bytes(hashlib.blake2b(family.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(np.random.SeedSequence([as_count(seed, "seed", minimum=0), tag]))


def _dirichlet(rng, alpha, rows, n):
    """``rows`` Dirichlet(alpha) vectors from normalised gamma draws (numpy's own dirichlet
    returns NaN for tiny alpha, where every gamma draw can underflow to 0)."""
    g = rng.standard_gamma(alpha, size=(rows, n))
    g[g.sum(axis=1) == 0, 0] = 1.0
    return g / g.sum(axis=1, keepdims=True)


def _pair(p, q, family, params, D=None):
    p, q = as_pair(p, q, normalize=True)
    return DistributionPair(p, q, family, params, tv_distance(p, q) if D is None else D)


def dirichlet_pair(n, *, seed, alpha=1.0):
    """P and Q drawn independently from Dirichlet(alpha, ..., alpha); small alpha is spiky."""
    v = check_params("dirichlet", n, alpha=alpha)
    p, q = _dirichlet(_rng(seed, "dirichlet"), v["alpha"], 2, v["n"])
    return _pair(p, q, "dirichlet", v)


def zipf_pair(n, *, seed, exponent=1.1, noise=0.5):
    """Zipf P (p_i proportional to (i + 1)**-exponent) and Q = P times lognormal(0, noise) noise."""
    v = check_params("zipf", n, exponent=exponent, noise=noise)
    rng = _rng(seed, "zipf")
    p = np.arange(1, v["n"] + 1, dtype=float) ** -v["exponent"]
    q = p * rng.lognormal(0.0, v["noise"], size=v["n"])
    return _pair(p, q, "zipf", v)


def kset_pair(n, *, seed, k, overlap):
    """Uniform on two k-subsets A, B of [n] with |A & B| = overlap: D = (k - overlap)/k exactly.

    The hard instance of the worst-case bound: Gumbel = WMH = |A & B|/|A | B| = (1-D)/(1+D).
    """
    v = check_params("kset", n, k=k, overlap=overlap)
    n, k, overlap = v["n"], v["k"], v["overlap"]
    rng = _rng(seed, "kset")
    items = rng.permutation(n)[: 2 * k - overlap]
    p = np.zeros(n)
    q = np.zeros(n)
    p[items[:k]] = 1.0 / k
    q[items[k - overlap :]] = 1.0 / k
    return _pair(p, q, "kset", v, D=(k - overlap) / k)


def point_mass_pair(n, *, seed, concentration=1.0):
    """P a point mass on a random item; Q spread: Dirichlet(concentration). Gumbel = 1 - D."""
    v = check_params("point-mass", n, concentration=concentration)
    rng = _rng(seed, "point-mass")
    p = np.zeros(v["n"])
    p[rng.integers(v["n"])] = 1.0
    q = _dirichlet(rng, v["concentration"], 1, v["n"])[0]
    return _pair(p, q, "point-mass", v)


def llm_softmax_pair(n, *, seed, temperature=1.0, scale=3.0, perturbation=0.5):
    """Next-token-like pair: P = softmax(z / T) with Gaussian logits z ~ N(0, scale^2), and
    Q = softmax((z + e) / T) for a drafter error e ~ N(0, perturbation^2)."""
    v = check_params(
        "llm-softmax", n, temperature=temperature, scale=scale, perturbation=perturbation
    )
    rng = _rng(seed, "llm-softmax")
    z = rng.normal(0.0, v["scale"], size=v["n"])
    e = rng.normal(0.0, v["perturbation"], size=v["n"])
    t = v["temperature"]
    return _pair(softmax(z / t), softmax((z + e) / t), "llm-softmax", v)


def mixture_pair(n, *, seed, lam=0.5, alpha=1.0):
    """P ~ Dirichlet(alpha) and Q = (1 - lam) P + lam R with R ~ Dirichlet(alpha): D <= lam."""
    v = check_params("mixture", n, lam=lam, alpha=alpha)
    rng = _rng(seed, "mixture")
    p, r = _dirichlet(rng, v["alpha"], 2, v["n"])
    return _pair(p, (1 - v["lam"]) * p + v["lam"] * r, "mixture", v)


def max_swaps(n):
    """The most transpositions :func:`permuted_pair` takes for n items: max(n, ceil(n ln n)).

    About (n ln n)/2 random transpositions already make the permutation uniform in total
    variation (Diaconis and Shahshahani 1981): more would change nothing but the running time.
    For a uniform permutation leave ``swaps`` out.
    """
    return max(n, math.ceil(n * math.log(n)))


_SWAP_DRAWS = 1 << 16  # transpositions drawn per call to the generator (1 MiB of indices)


def _transpose(perm, pairs):
    """Swap ``perm[i]`` and ``perm[j]`` for each row (i, j) of ``pairs``, in order, in place.

    Transpositions with no position in common commute, so each step applies the longest run
    of pairwise disjoint ones at once: about sqrt(n) per numpy step (the birthday bound)
    instead of a Python step per swap. The tests check it against the one-swap-a-step loop.
    """
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]  # (i, i) moves nothing
    window = max(8, math.isqrt(perm.size))
    first = np.full(perm.size, np.iinfo(np.int64).max)  # first place of each item in a window
    t = 0
    while t < len(pairs):
        flat = pairs[t : t + window].ravel()
        places = np.arange(flat.size)
        np.minimum.at(first, flat, places)
        repeat = np.flatnonzero(first[flat] < places)  # items already seen in this window
        first[flat] = np.iinfo(np.int64).max
        stop = int(repeat[0]) // 2 if repeat.size else flat.size // 2
        a, b = pairs[t : t + stop, 0], pairs[t : t + stop, 1]
        perm[a], perm[b] = perm[b], perm[a]  # fancy indexing copies: a simultaneous swap
        t += stop


def permuted_pair(n, *, seed, alpha=1.0, swaps=None):
    """P ~ Dirichlet(alpha) and Q = P with ``swaps`` random transpositions (at most
    :func:`max_swaps`), or under a uniformly random permutation when ``swaps`` is None."""
    v = check_params("permuted", n, alpha=alpha, swaps=swaps)
    n = v["n"]
    rng = _rng(seed, "permuted")
    p = _dirichlet(rng, v["alpha"], 1, n)[0]
    if swaps is None:
        perm = rng.permutation(n)
    else:
        perm = np.arange(n)
        for done in range(0, v["swaps"], _SWAP_DRAWS):
            # the same stream as drawing (i, j) one swap at a time
            _transpose(perm, rng.integers(n, size=(min(_SWAP_DRAWS, v["swaps"] - done), 2)))
    return _pair(p, p[perm], "permuted", v)


_NPZ_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive, or an empty one
_NPY_MAGIC = b"\x93NUMPY"
_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def from_npz(path, *, p_key="p", q_key="q", normalize=False):
    """Load a pair stored as arrays ``p`` and ``q`` in an .npz file (validated; rescaled only
    with ``normalize``).

    Anything else (a missing path, a directory, a text file, a lone .npy array, a truncated or
    corrupt archive, pickled objects) is a one-line ValueError naming the path.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no such .npz file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(_NPY_MAGIC):
        raise ValueError(f"{path} is a single .npy array, not an .npz archive of p and q")
    if not head.startswith(_NPZ_MAGIC):
        raise ValueError(f"{path} is not an .npz archive (np.savez writes one)")
    try:
        with np.load(path, allow_pickle=False) as data:
            names = sorted(data.files)
            raw = [data[k] for k in (p_key, q_key) if k in names]
    except _READ_ERRORS as exc:
        raise ValueError(f"{path} cannot be read as an .npz archive: {exc}") from None
    for key in (p_key, q_key):
        if key not in names:
            raise ValueError(f"{path} has no array {key!r}; it has {names}")
    p = as_distribution(raw[0], "p", normalize=normalize)
    q = as_distribution(raw[1], "q", normalize=normalize)
    if p.shape != q.shape:
        raise ValueError(f"p and q in {path} have different lengths: {p.size} and {q.size}")
    return DistributionPair(p, q, "npz", {"path": str(path)}, tv_distance(p, q))


FAMILIES = {
    "dirichlet": dirichlet_pair,
    "zipf": zipf_pair,
    "kset": kset_pair,
    "point-mass": point_mass_pair,
    "llm-softmax": llm_softmax_pair,
    "mixture": mixture_pair,
    "permuted": permuted_pair,
}


def _kset_rules(n, k, overlap):
    k = as_count(k, "k")
    overlap = as_count(overlap, "overlap", minimum=0)
    if overlap > k or 2 * k - overlap > n:
        raise ValueError(
            f"need overlap <= k and 2k - overlap <= n, got n={n}, k={k}, overlap={overlap}"
        )
    return {"k": k, "overlap": overlap}


def _permuted_rules(n, alpha, swaps):
    alpha = as_real(alpha, "alpha", 0.0, open_low=True)
    if swaps is not None:
        swaps = as_count(swaps, "swaps", minimum=0)
        if swaps > max_swaps(n):
            raise ValueError(
                f"swaps = {swaps} exceeds max(n, n ln n) = {max_swaps(n)} for n = {n}: by then "
                "the permutation is already uniform; leave swaps out for a uniform permutation"
            )
    return {"alpha": alpha, "swaps": swaps}


def _positive(name):
    return lambda value: as_real(value, name, 0.0, open_low=True)


def _nonnegative(name):
    return lambda value: as_real(value, name, 0.0)


# family -> rules(n, **params): the validated parameters (n is checked before)
_RULES = {
    "dirichlet": lambda n, alpha: {"alpha": _positive("alpha")(alpha)},
    "zipf": lambda n, exponent, noise: {
        "exponent": _nonnegative("exponent")(exponent),
        "noise": _nonnegative("noise")(noise),
    },
    "kset": _kset_rules,
    "point-mass": lambda n, concentration: {
        "concentration": _positive("concentration")(concentration)
    },
    "llm-softmax": lambda n, temperature, scale, perturbation: {
        "temperature": _positive("temperature")(temperature),
        "scale": _nonnegative("scale")(scale),
        "perturbation": _nonnegative("perturbation")(perturbation),
    },
    "mixture": lambda n, lam, alpha: {
        "lam": as_real(lam, "lam", 0.0, 1.0),
        "alpha": _positive("alpha")(alpha),
    },
    "permuted": _permuted_rules,
}


def check_params(family, n, **params):
    """Check a family's arguments without building a pair.

    Returns ``{"n": n, **params}`` validated, with the family's defaults filled in (the
    ``params`` of the pair it would build); raises a one-line ValueError or TypeError naming
    the first problem: an unknown family or parameter, a wrong type, a value out of range.

    Examples
    --------
    >>> check_params("mixture", 10, lam=0.25)
    {'n': 10, 'lam': 0.25, 'alpha': 1.0}
    """
    as_choice(family, "family", tuple(FAMILIES))
    try:
        bound = inspect.signature(FAMILIES[family]).bind(n, seed=0, **params)
    except TypeError as exc:
        raise TypeError(f"family {family!r}: {exc}") from None
    bound.apply_defaults()
    args = {k: v for k, v in bound.arguments.items() if k not in ("n", "seed")}
    n = as_count(n, "n")
    return {"n": n, **_RULES[family](n, **args)}


def make_pair(family, n, *, seed, **params):
    """Build a pair from a family name in ``FAMILIES`` with its keyword parameters."""
    check_params(family, n, **params)
    return FAMILIES[family](n, seed=seed, **params)
