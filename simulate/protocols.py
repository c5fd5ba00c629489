r"""Communication-free coupling protocols, one party at a time.

Each sampler is a function of one distribution and the public randomness
(:func:`coupling.simulate.randomness.uniform` with the protocol's domains): the item a party outputs
never depends on the other party's distribution. ``key`` is a trial number or a token
position; pass an array of keys for many independent draws at once.

* :func:`gumbel_sample`: :math:`\arg\min_i E_i / p_i`, :math:`E_i = -\ln u_i` (Gumbel-max).
* :func:`wmh_sample`: weighted MinHash, the first public dart :math:`(i_k, h_k)` with
  :math:`h_k \le p_{i_k}`.
* :func:`optimal_coupling_sample` and :func:`independent_sample`: the two baselines; the
  maximal coupling needs both distributions in one place.

The one-party samplers take one distribution (V,) with keys of any shape, or rows (R, V) with
one key per row (a verify block of a decoder), and dispatch by array type: numpy input runs
the numba kernels on the host, a torch tensor runs :mod:`coupling.simulate._torch` on its device and
returns a tensor there. Both backends implement the same public randomness bit for bit.
"""

import numpy as np
from coupling.simulate import _kernels
from coupling.simulate._batch import as_rows
from coupling.simulate._prepare import FAITHFUL_DOMAINS, faithful_pairs, solo_draws
from coupling.simulate.randomness import domain_tag
from coupling.simulate.validation import (
    as_distribution,
    as_key_array,
    as_pair,
    as_seed,
    is_tensor,
)

__all__ = [
    "gumbel_sample",
    "independent_sample",
    "inverse_cdf_sample",
    "optimal_coupling_sample",
    "wmh_darts_sample",
    "wmh_sample",
]


def _solo(protocol, p, seed, key, normalize):
    """One party's samples, by array type: numba on numpy arrays, torch on tensors."""
    if is_tensor(p):
        from coupling.simulate import _torch  # only callers holding tensors need torch

        if protocol == "wmh-darts":
            raise TypeError("wmh_darts_sample has no torch backend; pass a numpy array")
        tags = [domain_tag(d) for d in FAITHFUL_DOMAINS[protocol]]
        return _torch.solo_sample(protocol, p, seed, key, normalize, tags)
    seed = as_seed(seed)
    keys = as_key_array(key, "key")
    rows, two_d = as_rows(p, normalize, keys.shape)
    flat = np.ascontiguousarray(keys.reshape(-1))
    row_of = np.arange(flat.size) if two_d else np.zeros(flat.size, np.int64)
    out = solo_draws(protocol, rows, row_of, seed, flat)
    return int(out[0]) if keys.ndim == 0 else out.reshape(keys.shape)


def _pairs(protocol, p, q, seed, key):
    keys = as_key_array(key, "key")
    out_a, out_b = faithful_pairs(protocol, p, q, as_seed(seed), keys.reshape(-1))
    if keys.ndim == 0:
        return int(out_a[0]), int(out_b[0])
    return out_a.reshape(keys.shape), out_b.reshape(keys.shape)


def gumbel_sample(p, *, seed, key, normalize=False):
    """The exponential-race sample :math:`\\arg\\min_i E_i/p_i` of one party,
    :math:`E_i = -\\ln u(\\text{seed}, \\text{gumbel}, \\text{key}, i)`.

    Ties break to the lowest index; items with :math:`p_i = 0` never win. On numpy input the
    numba race runs (a pre-filter skips items that provably cannot win); on a torch tensor
    the whole row is raced on its device (:mod:`coupling.simulate._torch`), with uniforms bit for
    bit the same and, for float64 input, the same item wherever the device's ``log`` rounds the
    two leading candidates like the host's (module notes of :mod:`coupling.simulate._torch`).

    Parameters
    ----------
    p : array_like or torch.Tensor, shape (V,) or (R, V)
        The party's distribution, or R distributions, one per row.
    seed : int
        Public seed shared by the parties.
    key : int, array of ints or integer tensor
        Trial number or token position. With one distribution the output has the shape of
        ``key``; with rows, ``key`` has shape (R,) and row r is sampled with ``key[r]``.
    normalize : bool
        Rescale each distribution to sum to 1 instead of rejecting it.

    Returns
    -------
    int, ndarray of int64 or torch.Tensor of int64
        A Python int for one distribution and a scalar key, else an array of the shape above.
        A tensor ``p`` gives a tensor on its device (reading it on the host is the caller's
        choice, the only synchronisation besides validation's small reads).

    Examples
    --------
    >>> gumbel_sample([0.0, 1.0, 0.0], seed=7, key=3)
    1
    >>> gumbel_sample([[0.5, 0.5], [0.0, 1.0]], seed=7, key=[3, 4]).tolist()
    [0, 1]
    """
    return _solo("gumbel", p, seed, key, normalize)


def wmh_sample(p, *, seed, key, normalize=False):
    """Weighted MinHash sample: the column of the first public dart below the bar ``p``.

    The dart stream is generated per column as its record process: only the darts that lower
    the column's record, O(log 1/p_i) each, abandoned once they cannot win (protocol
    ``"wmh"``). :func:`wmh_darts_sample` throws the literal stream instead; the two are equal in
    law, not draw for draw, and use different public domains. A torch tensor runs the record
    process on its device, one record of every column still able to win per round.

    Parameters and returns as in :func:`gumbel_sample`.

    Examples
    --------
    >>> wmh_sample([0.0, 1.0], seed=1, key=0)
    1
    """
    return _solo("wmh", p, seed, key, normalize)


def wmh_darts_sample(p, *, seed, key, normalize=False):
    """Weighted MinHash by literal dart throwing (protocol ``"wmh-darts"``): dart k lands in
    column floor(u n) at height u' (domains ``wmh-dart-item``, ``wmh-dart-height``) and the
    sample is the column of the first dart with height <= p[column]; about n darts a sample.
    Numpy input only (a reference procedure, not a device path); rows as in
    :func:`wmh_sample`.

    Examples
    --------
    >>> wmh_darts_sample([0.0, 1.0], seed=1, key=0)
    1
    """
    return _solo("wmh-darts", p, seed, key, normalize)


def optimal_coupling_sample(p, q, *, seed, key, normalize=False):
    """A draw (a, b) of the maximal coupling: Pr[a = b] = 1 - D. Needs both distributions.

    With probability 1 - D both output the same draw from :math:`m / (1 - D)`; otherwise a and
    b come from :math:`(p - m)/D` and :math:`(q - m)/D`, which have disjoint supports.
    """
    p, q = as_pair(p, q, normalize=normalize)
    return _pairs("optimal", p, q, seed, key)


def independent_sample(p, q, *, seed, key, normalize=False):
    """Independent draws a ~ p and b ~ q (separate domains): Pr[a = b] = sum p_i q_i."""
    p, q = as_pair(p, q, normalize=normalize)
    return _pairs("independent", p, q, seed, key)


def inverse_cdf_sample(p, u):
    """The inverse-CDF draw of ``p`` at ``u`` in [0, 1): the smallest i with
    ``cumsum(p)[i] > u * sum(p)``; an item of zero mass is never returned.

    ``p`` need not be normalised (the draw is scale-free). A torch tensor ``p`` of shape (V,)
    or (R, V) with ``u`` a float or a float64 tensor of shape () or (R,) draws on the device
    and returns an int64 tensor there.

    Examples
    --------
    >>> inverse_cdf_sample([0.25, 0.0, 0.75], 0.5)
    2
    """
    if is_tensor(p):
        from coupling.simulate import _torch

        return _torch.inverse_cdf_sample(p, u)
    as_distribution(p, normalize=True)  # validation only: the draw is scale-free
    w = np.asarray(p, dtype=np.float64)
    u = float(u)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must lie in [0, 1), got {u!r}")
    return int(_kernels.inverse_cdf(np.cumsum(w), u))
