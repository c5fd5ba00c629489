"""Turn validated distributions into the rows, tables and tags the kernels take, and run the
faithful drivers over flat keys (a few keys on the calling thread, many in parallel)."""

from typing import NamedTuple

import numpy as np
from coupling.simulate import _engines, _kernels
from coupling.simulate.randomness import domain_tag

PROTOCOL_CODES = {
    "gumbel": _engines.GUMBEL,
    "wmh": _engines.WMH,
    "wmh-darts": _engines.WMH_DARTS,
    "optimal": _engines.OPTIMAL,
    "independent": _engines.INDEPENDENT,
}
FAITHFUL_DOMAINS = {
    "gumbel": ("gumbel",),
    "wmh": ("wmh-record-time", "wmh-record-height"),
    "wmh-darts": ("wmh-dart-item", "wmh-dart-height"),
    "optimal": ("optimal",),
    "independent": ("independent-p", "independent-q"),
}


class FaithfulInputs(NamedTuple):
    """What :func:`coupling.simulate._engines.faithful_trial` takes for one pair of
    distributions."""

    code: int
    rows: np.ndarray  # (k, n) float64
    warm: np.ndarray  # int64 items the races visit first (empty for other protocols)
    stay: float  # 1 - D for the optimal coupling, else unused
    tags: np.ndarray  # uint64 domain tags


class FastInputs(NamedTuple):
    """What :func:`coupling.simulate._engines.fast_trial` takes for one pair of distributions."""

    code: int
    table: np.ndarray  # (n, k) float64, one row per item (see _engines.fast_trial)
    scalar: float
    tag: np.uint64


WARM_ITEMS = 16  # per party: enough to make the race's running best small at once
SERIAL_KEYS = 64  # up to this many keys (a token position, a verify block) stay on this thread
FAITHFUL_CHUNK = 16  # keys per parallel task


def _heaviest(p, q):
    k = min(WARM_ITEMS, p.size)
    top = [np.argpartition(w, w.size - k)[w.size - k :] for w in (p, q)]
    return np.unique(np.concatenate(top)).astype(np.int64)


def _cdf(w):
    return np.cumsum(w)


def _tags(protocol):
    return np.array([domain_tag(d) for d in FAITHFUL_DOMAINS[protocol]], dtype=np.uint64)


def faithful_inputs(protocol, p, q):
    """The weight rows, warm items, 1 - D and domain tags of ``protocol`` for the validated
    float64 pair (p, q)."""
    code = PROTOCOL_CODES[protocol]
    stay = 0.0
    warm = np.zeros(0, np.int64)
    if protocol in ("gumbel", "wmh", "wmh-darts"):
        rows = np.stack((p, q))
        if protocol != "wmh-darts":
            warm = _heaviest(p, q)
    elif protocol == "optimal":
        m = np.minimum(p, q)
        stay = float(np.sum(m))
        rows = np.stack((_cdf(m), _cdf(p - m), _cdf(q - m)))
    else:
        rows = np.stack((_cdf(p), _cdf(q)))
    return FaithfulInputs(code, np.ascontiguousarray(rows), warm, stay, _tags(protocol))


def faithful_pairs(protocol, p, q, seed, keys):
    """Both parties' outputs (a, b), int64 arrays, for flat uint64 ``keys``: the faithful
    engine's one dispatch, shared by the samplers and :func:`coupling.simulate.sample_pairs`."""
    inputs = faithful_inputs(protocol, p, q)
    out_a = np.empty(keys.size, np.int64)
    out_b = np.empty(keys.size, np.int64)
    args = (inputs.code, inputs.rows, inputs.warm, inputs.stay, seed, inputs.tags, keys)
    if keys.size <= SERIAL_KEYS:  # waking the thread pool would cost more than the trials
        _engines.faithful_pairs_serial(*args, out_a, out_b)
    else:
        _engines.faithful_pairs(*args, FAITHFUL_CHUNK, out_a, out_b)
    return out_a, out_b


def solo_draws(protocol, rows, row_of, seed, keys):
    """One party's samples (``gumbel``, ``wmh`` or ``wmh-darts``): key ``keys[t]`` on the
    validated float64 row ``rows[row_of[t]]``; an int64 array like ``keys``.

    Only what one party needs: the rows as given (no copy), no second party's rows or races,
    and for a warm start each row's heaviest item alone (one vectorised pass; a top 16 by
    partition would cost more than the race it speeds up)."""
    warm = np.zeros((rows.shape[0], 0 if protocol == "wmh-darts" else 1), np.int64)
    if warm.shape[1]:
        for r in range(rows.shape[0]):
            warm[r, 0] = np.argmax(rows[r])
    out = np.empty(keys.size, np.int64)
    args = (PROTOCOL_CODES[protocol], rows, warm, row_of, seed, _tags(protocol), keys)
    if keys.size <= SERIAL_KEYS:
        _engines.solo_draws_serial(*args, out)
    else:
        _engines.solo_draws(*args, FAITHFUL_CHUNK, out)
    return out


def _alias(w):
    prob = np.zeros(w.size)
    alias = np.arange(w.size, dtype=np.int64)
    if np.sum(w) > 0:  # an empty part (e.g. p - m when p = q) is never drawn from
        _kernels.build_alias(np.ascontiguousarray(w, dtype=np.float64), prob, alias)
    return prob, alias.astype(np.float64)  # exact: item numbers are far below 2**53


def _aligned_rows(n, k):
    """An (n, k) float64 array whose rows start on 64-byte cache-line boundaries when k = 8."""
    raw = np.empty(n * k + 8)
    offset = (-raw.ctypes.data % 64) // 8
    return raw[offset : offset + n * k].reshape(n, k)


def fast_inputs(protocol, p, q):
    m = np.minimum(p, q)
    big = np.maximum(p, q)
    scalar = 0.0
    if protocol == "gumbel":
        prob, alias = _alias(big)
        with np.errstate(divide="ignore", invalid="ignore"):  # inf where a party has no mass
            ratios = tuple(np.where(w > 0, big / w, np.inf) for w in (p, q))
        target = alias.astype(np.int64)
        pad = np.zeros(p.size)
        columns = (prob, alias, *ratios, ratios[0][target], ratios[1][target], pad, pad)
        scalar = float(np.sum(big))
    elif protocol in ("wmh", "wmh-darts"):  # one joint law, drawn by the first useful dart
        with np.errstate(invalid="ignore"):
            share = np.where(big > 0, m / big, 0.0)
        columns = (*_alias(big), share, (p > q).astype(np.float64), *_alias(p), *_alias(q))
    elif protocol == "optimal":
        columns = (*_alias(m), *_alias(p - m), *_alias(q - m))
        scalar = float(np.sum(m))
    else:
        columns = (*_alias(p), *_alias(q))
    table = _aligned_rows(p.size, len(columns))
    table[:] = np.column_stack(columns)
    code = _engines.WMH if protocol == "wmh-darts" else PROTOCOL_CODES[protocol]
    return FastInputs(code, table, scalar, domain_tag(f"fast-{protocol}"))
