r"""Monte Carlo estimates of Pr[a = b] with two engines that share the public randomness.

* ``engine="faithful"`` runs both parties' procedures literally (numba ``prange`` over
  trials; the Gumbel race skips an item only when :math:`-\ln u_i \ge 1 - u_i` proves it
  cannot win). Trial t uses key ``key + t``.
* ``engine="fast"`` draws (a, b) straight from the protocol's joint law in O(1) expected
  time per trial after O(n) set-up (alias tables over max(p, q); a lazy exponential race for
  Gumbel, the first useful dart for WMH), with streams of its own.

Both are bit-for-bit reproducible for any number of threads and any chunking.

``protocol="gls"`` (the list coupling with ``drafts`` = K drafts, :mod:`simulate.multidraft`)
counts the trials whose target item is in the list: faithful runs the K races, fast draws
(target's item, match) from the coupling's law.
"""

import math
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from scipy.stats import norm

from simulate import _engines
from simulate._prepare import FAITHFUL_DOMAINS, faithful_inputs, fast_inputs
from simulate.exact import LIST_PROTOCOLS, PROTOCOLS, _check_drafts
from simulate.multidraft import _as_k, _match_count, _match_pairs
from simulate.validation import as_choice, as_count, as_key_array, as_pair, as_seed

__all__ = ["ENGINES", "EstimateResult", "estimate", "sample_pairs", "wilson_interval"]

ENGINES = ("fast", "faithful")
CONFIDENCE = 0.95
FAITHFUL_CHUNK = 16
FAST_CHUNK = 1 << 16
_PROGRESS_STEPS = 64


class EstimateResult(NamedTuple):
    """A Monte Carlo estimate of Pr[a = b]."""

    value: float  #: fraction of trials with a == b
    stderr: float  #: binomial standard error sqrt(value (1 - value) / trials)
    ci_low: float  #: Wilson 95% interval, lower end
    ci_high: float  #: Wilson 95% interval, upper end
    trials: int
    hits: int
    protocol: str
    engine: str


def wilson_interval(hits, trials, confidence=CONFIDENCE):
    """Wilson score interval for a binomial proportion (Wilson 1927)."""
    hits = as_count(hits, "hits", minimum=0)
    trials = as_count(trials, "trials")
    if hits > trials:
        raise ValueError(f"hits ({hits}) exceeds trials ({trials})")
    z = float(norm.ppf(0.5 + confidence / 2))
    phat = hits / trials
    denom = 1 + z * z / trials
    centre = (phat + z * z / (2 * trials)) / denom
    half = z * math.sqrt(phat * (1 - phat) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _engine_protocol(protocol, engine):
    if engine == "faithful":
        return as_choice(protocol, "protocol", (*FAITHFUL_DOMAINS, *LIST_PROTOCOLS))
    return as_choice(protocol, "protocol", PROTOCOLS + LIST_PROTOCOLS)


def _count(protocol, engine, p, q, seed, first_key, trials, drafts):
    if protocol in LIST_PROTOCOLS:
        chunk = FAITHFUL_CHUNK if engine == "faithful" else FAST_CHUNK
        return _match_count(engine, p, q, drafts, seed, first_key, trials, chunk)
    if engine == "faithful":
        inp = faithful_inputs(protocol, p, q)
        chunk = FAITHFUL_CHUNK
        counts = np.zeros(-(-trials // chunk), np.int64)
        _engines.faithful_counts(
            inp.code, inp.rows, inp.warm, inp.stay, seed, inp.tags, first_key, trials, chunk, counts
        )
    else:
        inp = fast_inputs(protocol, p, q)
        chunk = FAST_CHUNK
        counts = np.zeros(-(-trials // chunk), np.int64)
        _engines.fast_counts(
            inp.code, inp.table, inp.scalar, seed, inp.tag, first_key, trials, chunk, counts
        )
    return int(counts.sum())


def estimate(
    p,
    q,
    protocol,
    trials,
    *,
    seed,
    engine="fast",
    key=0,
    normalize=False,
    progress=None,
    drafts=None,
):
    """Estimate Pr[a = b] for ``protocol`` from ``trials`` independent keys.

    Parameters
    ----------
    p, q : array_like, shape (n,)
    protocol : {"gumbel", "wmh", "wmh-darts", "optimal", "independent"}
        ``"wmh"`` runs the per-column record process, ``"wmh-darts"`` the literal dart stream
        (same law; under the fast engine both draw from it by the first useful dart).
        ``"gls"``: the list coupling with ``drafts`` drafts (:mod:`simulate.multidraft`); a hit
        is the target's item being in the list.
    trials : int
    seed : int
    engine : {"fast", "faithful"}
    key : int
        The first key: trial t uses key ``key + t``, so disjoint ranges give independent
        estimates.
    progress : callable(int) or None
        Called with the number of trials just finished; the work is split into pieces for it,
        which does not change the result.
    drafts : int or None
        K, the number of drafts: required for "gls", refused for the other protocols.

    Returns
    -------
    EstimateResult

    Examples
    --------
    >>> r = estimate([0.5, 0.5], [0.5, 0.5], "gumbel", 1000, seed=0)
    >>> r.value
    1.0
    """
    as_choice(engine, "engine", ENGINES)
    _engine_protocol(protocol, engine)
    _check_drafts(protocol, drafts)
    p, q = as_pair(p, q, normalize=normalize)
    if drafts is not None:
        drafts = _as_k(drafts, p.size, "drafts")
    trials = as_count(trials, "trials")
    seed = as_seed(seed)
    start = as_key_array(key, "key")
    if start.ndim != 0:
        raise TypeError(f"key must be one int here (the first key), got shape {start.shape}")
    start = int(start)
    if start + trials > 2**63:
        raise ValueError(f"key + trials = {start + trials} exceeds 2**63")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    pieces = 1 if progress is None else min(trials, _PROGRESS_STEPS)
    bounds = np.linspace(0, trials, pieces + 1).astype(np.int64)
    hits = 0
    for lo, hi in pairwise(bounds):
        if hi > lo:
            hits += _count(protocol, engine, p, q, seed, start + int(lo), int(hi - lo), drafts)
            if progress is not None:
                progress(int(hi - lo))
    value = hits / trials
    low, high = wilson_interval(hits, trials)
    stderr = math.sqrt(value * (1 - value) / trials)
    return EstimateResult(value, stderr, low, high, trials, hits, protocol, engine)


def sample_pairs(p, q, protocol, *, seed, key, engine="faithful", normalize=False, drafts=None):
    """The pairs (a, b) behind :func:`estimate`, one per key: two ints for a scalar ``key``,
    else two int64 arrays of its shape.

    The default ``engine="faithful"`` runs both parties' own procedures, so ``a`` equals
    :func:`gumbel_sample` (``wmh_sample``, ...) of ``p`` for the same seed and key.
    ``engine="fast"`` draws from the same joint law with streams of its own: equal in law,
    not draw for draw. For "gls" (``drafts`` = K), a is the target's item and b the same item
    when the list holds it, else -1, so that a == b is the success event as everywhere.
    """
    as_choice(engine, "engine", ENGINES)
    _engine_protocol(protocol, engine)
    _check_drafts(protocol, drafts)
    p, q = as_pair(p, q, normalize=normalize)
    seed = as_seed(seed)
    keys = as_key_array(key, "key")
    flat = np.ascontiguousarray(keys.reshape(-1))
    if protocol in LIST_PROTOCOLS:
        out_a, out_b = _match_pairs(engine, p, q, _as_k(drafts, p.size, "drafts"), seed, flat)
        if keys.ndim == 0:
            return int(out_a[0]), int(out_b[0])
        return out_a.reshape(keys.shape), out_b.reshape(keys.shape)
    out_a = np.empty(flat.size, np.int64)
    out_b = np.empty(flat.size, np.int64)
    if engine == "faithful":
        inp = faithful_inputs(protocol, p, q)
        _engines.faithful_pairs(
            inp.code,
            inp.rows,
            inp.warm,
            inp.stay,
            seed,
            inp.tags,
            flat,
            FAITHFUL_CHUNK,
            out_a,
            out_b,
        )
    else:
        inp = fast_inputs(protocol, p, q)
        _engines.fast_pairs(
            inp.code, inp.table, inp.scalar, seed, inp.tag, flat, FAST_CHUNK, out_a, out_b
        )
    if keys.ndim == 0:
        return int(out_a[0]), int(out_b[0])
    return out_a.reshape(keys.shape), out_b.reshape(keys.shape)
