r"""Communication-free coupling protocols, one party at a time.

Each sampler is a function of one distribution and the public randomness
(:func:`simulate.randomness.uniform` with the protocol's domains): the item a party outputs
never depends on the other party's distribution. ``key`` is a trial number or a token
position; pass an array of keys for many independent draws at once.

* :func:`gumbel_sample`: :math:`\arg\min_i E_i / p_i`, :math:`E_i = -\ln u_i` (Gumbel-max).
* :func:`wmh_sample`: weighted MinHash, the first public dart :math:`(i_k, h_k)` with
  :math:`h_k \le p_{i_k}`.
* :func:`optimal_coupling_sample` and :func:`independent_sample`: the two baselines; the
  maximal coupling needs both distributions in one place.
"""

import numpy as np

from simulate import _engines, _kernels
from simulate._prepare import faithful_inputs
from simulate.validation import as_distribution, as_key_array, as_pair, as_seed

__all__ = [
    "gumbel_sample",
    "independent_sample",
    "inverse_cdf_sample",
    "optimal_coupling_sample",
    "wmh_darts_sample",
    "wmh_sample",
]

_CHUNK = 64


def _run_pairs(protocol, p, q, seed, key):
    seed = as_seed(seed)
    keys = as_key_array(key, "key")
    flat = np.ascontiguousarray(keys.reshape(-1))
    inputs = faithful_inputs(protocol, p, q)
    out_a = np.empty(flat.size, np.int64)
    out_b = np.empty(flat.size, np.int64)
    args = (inputs.code, inputs.rows, inputs.warm, inputs.stay, seed, inputs.tags, flat)
    if flat.size <= _CHUNK:  # a token position: stay on this thread
        _engines.faithful_pairs_serial(*args, out_a, out_b)
    else:
        _engines.faithful_pairs(*args, _CHUNK, out_a, out_b)
    if keys.ndim == 0:
        return int(out_a[0]), int(out_b[0])
    return out_a.reshape(keys.shape), out_b.reshape(keys.shape)


def gumbel_sample(p, *, seed, key, normalize=False):
    """The exponential-race sample :math:`\\arg\\min_i E_i/p_i` of one party.

    Parameters
    ----------
    p : array_like, shape (n,)
        The party's distribution.
    seed : int
        Public seed shared by the parties.
    key : int or array of ints
        Trial number or token position; the output has the shape of ``key``.
    normalize : bool
        Rescale ``p`` to sum to 1 instead of rejecting it.

    Returns
    -------
    int or ndarray of int64
        Ties break to the lowest index; items with :math:`p_i = 0` never win.

    Examples
    --------
    >>> gumbel_sample([0.0, 1.0, 0.0], seed=7, key=3)
    1
    """
    p = as_distribution(p, normalize=normalize)
    return _run_pairs("gumbel", p, p, seed, key)[0]


def wmh_sample(p, *, seed, key, normalize=False):
    """Weighted MinHash sample: the column of the first public dart below the bar ``p``.

    The dart stream is generated per column as its record process: only the darts that lower
    the column's record, O(log 1/p_i) each, abandoned once they cannot win (protocol
    ``"wmh"``). :func:`wmh_darts_sample` throws the literal stream instead; the two are equal in
    law, not draw for draw, and use different public domains.

    Examples
    --------
    >>> wmh_sample([0.0, 1.0], seed=1, key=0)
    1
    """
    p = as_distribution(p, normalize=normalize)
    return _run_pairs("wmh", p, p, seed, key)[0]


def wmh_darts_sample(p, *, seed, key, normalize=False):
    """Weighted MinHash by literal dart throwing (protocol ``"wmh-darts"``): dart k lands in
    column floor(u n) at height u' (domains ``wmh-dart-item``, ``wmh-dart-height``) and the
    sample is the column of the first dart with height <= p[column]; about n darts a sample.

    Examples
    --------
    >>> wmh_darts_sample([0.0, 1.0], seed=1, key=0)
    1
    """
    p = as_distribution(p, normalize=normalize)
    return _run_pairs("wmh-darts", p, p, seed, key)[0]


def optimal_coupling_sample(p, q, *, seed, key, normalize=False):
    """A draw (a, b) of the maximal coupling: Pr[a = b] = 1 - D. Needs both distributions.

    With probability 1 - D both output the same draw from :math:`m / (1 - D)`; otherwise a and
    b come from :math:`(p - m)/D` and :math:`(q - m)/D`, which have disjoint supports.
    """
    p, q = as_pair(p, q, normalize=normalize)
    return _run_pairs("optimal", p, q, seed, key)


def independent_sample(p, q, *, seed, key, normalize=False):
    """Independent draws a ~ p and b ~ q (separate domains): Pr[a = b] = sum p_i q_i."""
    p, q = as_pair(p, q, normalize=normalize)
    return _run_pairs("independent", p, q, seed, key)


def inverse_cdf_sample(p, u):
    """The inverse-CDF draw of ``p`` at ``u`` in [0, 1): the smallest i with
    ``cumsum(p)[i] > u * sum(p)``; an item of zero mass is never returned.

    Examples
    --------
    >>> inverse_cdf_sample([0.25, 0.0, 0.75], 0.5)
    2
    """
    as_distribution(p, normalize=True)  # validation only: the draw is scale-free
    w = np.asarray(p, dtype=np.float64)
    u = float(u)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must lie in [0, 1), got {u!r}")
    return int(_kernels.inverse_cdf(np.cumsum(w), u))
