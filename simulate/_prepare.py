"""Turn validated distributions into the rows, tables and tags the kernels take."""

from typing import NamedTuple

import numpy as np

from simulate import _engines, _kernels
from simulate.randomness import domain_tag

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
    code: int
    rows: np.ndarray  # (k, n) float64
    warm: np.ndarray  # int64 items the Gumbel race visits first (empty for other protocols)
    stay: float  # 1 - D for the optimal coupling, else unused
    tags: np.ndarray  # uint64 domain tags


class FastInputs(NamedTuple):
    code: int
    table: np.ndarray  # (n, k) float64, one row per item (see _engines.fast_trial)
    scalar: float
    tag: np.uint64


WARM_ITEMS = 16  # per party: enough to make the race's running best small at once


def _heaviest(p, q):
    k = min(WARM_ITEMS, p.size)
    top = [np.argpartition(w, w.size - k)[w.size - k :] for w in (p, q)]
    return np.unique(np.concatenate(top)).astype(np.int64)


def _cdf(w):
    return np.cumsum(w)


def faithful_inputs(protocol, p, q):
    code = PROTOCOL_CODES[protocol]
    tags = np.array([domain_tag(d) for d in FAITHFUL_DOMAINS[protocol]], dtype=np.uint64)
    stay = 0.0
    warm = np.zeros(0, np.int64)
    if protocol == "gumbel":
        rows = np.stack((p, q, p * _kernels.TWO_31, q * _kernels.TWO_31))
        warm = _heaviest(p, q)
    elif protocol in ("wmh", "wmh-darts"):
        rows = np.stack((p, q))
        if protocol == "wmh":
            warm = _heaviest(p, q)
    elif protocol == "optimal":
        m = np.minimum(p, q)
        stay = float(np.sum(m))
        rows = np.stack((_cdf(m), _cdf(p - m), _cdf(q - m)))
    else:
        rows = np.stack((_cdf(p), _cdf(q)))
    return FaithfulInputs(code, np.ascontiguousarray(rows), warm, stay, tags)


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
