r"""Monte Carlo estimates of Pr[a = b] with two engines that share the public randomness.

* ``engine="faithful"`` runs both parties' procedures literally (numba ``prange`` over
  trials; the Gumbel race skips an item only when :math:`-\ln u_i \ge 1 - u_i` proves it
  cannot win). Trial t uses key ``key + t``.
* ``engine="fast"`` draws (a, b) straight from the protocol's joint law in O(1) expected
  time per trial after O(n) set-up (alias tables over max(p, q); a lazy exponential race for
  Gumbel, the first useful dart for WMH), with streams of its own.

Both are bit-for-bit reproducible for any number of threads and any chunking. The work runs in
pieces of about a quarter second each (:mod:`coupling.simulate._pieces`), so progress is
reported and Ctrl-C (KeyboardInterrupt) is seen between pieces however many trials are asked
for.

``protocol="gls"`` (the list coupling with ``drafts`` = K drafts,
:mod:`coupling.simulate.multidraft`) counts the trials whose target item is in the list: faithful
runs the K races, fast draws (target's item, match) from the coupling's law.
"""

import math
from typing import NamedTuple

import numba
import numpy as np
from coupling.simulate import _engines
from coupling.simulate._pieces import pieces
from coupling.simulate._prepare import (
    FAITHFUL_CHUNK,
    FAITHFUL_DOMAINS,
    faithful_inputs,
    faithful_pairs,
    fast_inputs,
)
from coupling.simulate.exact import LIST_PROTOCOLS, PROTOCOLS, _check_drafts
from coupling.simulate.multidraft import _as_k, _match_counter, _match_pairs
from coupling.simulate.validation import (
    as_choice,
    as_count,
    as_key_array,
    as_pair,
    as_real,
    as_seed,
)
from scipy.stats import norm

__all__ = [
    "ENGINES",
    "KEY_SPACE",
    "EstimateResult",
    "estimate",
    "run_memory",
    "sample_pairs",
    "wilson_interval",
    "z_score",
]

ENGINES = ("fast", "faithful")
CONFIDENCE = 0.95
FAST_CHUNK = 1 << 16
#: Keys lie in [0, KEY_SPACE): ``estimate(..., trials, key=k)`` needs k + trials <= KEY_SPACE.
KEY_SPACE = 2**63
#: Peak bytes per item of one run on n items: building a pair, its exact values and a Monte
#: Carlo estimate (tracemalloc measures at most about 320; the tests check the bound).
RUN_BYTES_PER_ITEM = 400


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


def run_memory(n):
    """Bytes a run on n items needs at its peak: ``RUN_BYTES_PER_ITEM * n`` (the pair, its
    exact values, the engines' tables), for refusing an impossible run before it starts."""
    return RUN_BYTES_PER_ITEM * as_count(n, "n")


def z_score(value, exact, trials):
    """The standard score of a Monte Carlo estimate against the exact value it estimates:

    .. math:: z = (\\hat p - p) / \\sqrt{p (1 - p) / T},

    the binomial standard error taken at the exact value p (the null hypothesis), never at the
    estimate: the estimate's own error is 0 when no trial or every trial collides, which would
    hide a wrong estimate as z = 0. When p is 0 or 1 the error is 0 too, and z is 0 if the
    estimate equals p, else an infinity of its sign. Every z in this project (the CLI, the
    search's re-check, the language-model summaries) is this one.

    Examples
    --------
    >>> round(z_score(1.0, 0.6, 3), 6)  # three trials, all collided: the estimate's SE is 0
    1.414214
    """
    value = as_real(value, "value", 0.0, 1.0)
    exact = as_real(exact, "exact", 0.0, 1.0)
    trials = as_count(trials, "trials")
    se = math.sqrt(exact * (1.0 - exact) / trials)
    if se == 0.0:
        return 0.0 if value == exact else math.copysign(math.inf, value - exact)
    return (value - exact) / se


def _counter(protocol, engine, p, q, seed, drafts):
    """``count(first_key, trials)``: the collisions of trials with keys first_key + t."""
    if protocol in LIST_PROTOCOLS:
        chunk = FAITHFUL_CHUNK if engine == "faithful" else FAST_CHUNK
        first_piece = 1 if engine == "faithful" else chunk
        return _match_counter(engine, p, q, drafts, seed, chunk), first_piece
    if engine == "faithful":
        inp = faithful_inputs(protocol, p, q)

        def count(first_key, trials):
            counts = np.zeros(-(-trials // FAITHFUL_CHUNK), np.int64)
            _engines.faithful_counts(inp.code, inp.rows, inp.warm, inp.stay, seed, inp.tags,
                                     first_key, trials, FAITHFUL_CHUNK, counts)  # fmt: skip
            return int(counts.sum())

        return count, 1
    inp = fast_inputs(protocol, p, q)

    def count(first_key, trials):
        counts = np.zeros(-(-trials // FAST_CHUNK), np.int64)
        _engines.fast_counts(inp.code, inp.table, inp.scalar, seed, inp.tag, first_key, trials,
                             FAST_CHUNK, counts)  # fmt: skip
        return int(counts.sum())

    return count, FAST_CHUNK


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
        ``"gls"``: the list coupling with ``drafts`` drafts (:mod:`coupling.simulate.multidraft`); a
        hit is the target's item being in the list.
    trials : int
        At most ``KEY_SPACE - key``, the keys the engines address.
    seed : int
    engine : {"fast", "faithful"}
    key : int
        The first key: trial t uses key ``key + t``, so disjoint ranges give independent
        estimates.
    progress : callable(int) or None
        Called with the number of trials just finished, after each piece of about a quarter
        second; how the work is split never changes the result.
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
    if start + trials > KEY_SPACE:
        raise ValueError(
            f"trials must be <= 2**63 - key = {KEY_SPACE - start} (trial t uses key key + t, and "
            f"keys lie in [0, 2**63)), got {trials}"
        )
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    count, first_piece = _counter(protocol, engine, p, q, seed, drafts)
    hits = 0
    for done, piece in pieces(trials, first_piece * numba.get_num_threads()):
        hits += count(start + done, piece)
        if progress is not None:
            progress(piece)
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
    if engine == "faithful":
        out_a, out_b = faithful_pairs(protocol, p, q, seed, flat)
    else:
        inp = fast_inputs(protocol, p, q)
        out_a = np.empty(flat.size, np.int64)
        out_b = np.empty(flat.size, np.int64)
        _engines.fast_pairs(
            inp.code, inp.table, inp.scalar, seed, inp.tag, flat, FAST_CHUNK, out_a, out_b
        )
    if keys.ndim == 0:
        return int(out_a[0]), int(out_b[0])
    return out_a.reshape(keys.shape), out_b.reshape(keys.shape)
