r"""The public randomness and the one-party samplers on torch tensors, on any device.

Imported only when a sampler is handed a tensor
(:func:`coupling.simulate.validation.is_tensor`), so ``import coupling`` never needs torch. Same
specification as :mod:`coupling.simulate.randomness`, same races as
:mod:`coupling.simulate._kernels`, written as whole-tensor operations so nothing but integers
crosses to the host (one small read of validation flags per call, a second for keys held in a
tensor; the floats of a row are read only to name the problem of a row that fails its check):

* 64-bit words live in int64 tensors. Addition and multiplication wrap modulo :math:`2^{64}`
  in two's complement exactly as uint64 arithmetic does; a logical right shift is the
  arithmetic shift with the copied sign bits masked off. The uniforms are bit for bit the
  numba kernels' (known-answer vectors in the tests).
* Gumbel: :math:`\arg\min_i -\ln(u_i) / p_i` over the whole row, first index on ties (the
  kernels' lexicographic rule); no pre-filter: the device does the elementwise work in bulk.
* WMH: every column's record process advanced one record per round, over the columns that can
  still win (compacted each round); the winner is the lexicographic argmin of the columns'
  taking times, exactly the kernel's answer, whatever the visiting order.

Agreement with the numba backend. The arithmetic is the same operation for operation, so for
float64 input the two backends return the same item unless ``log`` rounds differently on the
two leading candidates *and* they are within an ulp or two of each other. Host ``log`` (glibc)
is correctly rounded in practice; torch's CPU ``log`` (SLEEF, 1 ulp) differs from it on about
0.1 % of uniforms, and CUDA's ``log`` (documented max error 1 ulp) similarly. A flip then
needs the two smallest keys :math:`-\ln(u)/p` within a relative :math:`2^{-51}`: for
continuous keys about :math:`2^{-51}` per draw, so under :math:`10^{-18}` per draw after the
0.1 % factor. The tests compare 10^5 float64 cases with zero tolerance on CPU torch and, where
the backends disagree at all, require the disagreement to be such a near-tie (it never occurred
in the runs recorded). Within one backend the sampler is a deterministic function of (p, key),
which is all DISD's drafter invariance needs: target, drafter and reference of one run share it.
"""

import torch
from coupling.simulate import _hash
from coupling.simulate._batch import check_shapes
from coupling.simulate._kernels import RECORD_SHIFT
from coupling.simulate.validation import (
    as_distribution,
    as_key_array,
    as_seed,
    check_key_range,
    check_tensor_dtype,
    clearly_fine,
    needs_rescale,
    sum_tolerance,
)


def _signed(x):
    """The int64 with the bits of the uint64 ``x``."""
    x = int(x)
    return x - (1 << 64) if x >= 1 << 63 else x


GAMMA = _signed(_hash.GAMMA)
_M1 = _signed(_hash._M1)
_M2 = _signed(_hash._M2)
TWO_M53 = _hash.TWO_M53
CHUNK_ELEMENTS = 1 << 22  # keys x items raced at once for one distribution and many keys
DENSE_RECORDS = 2  # WMH records run over every column before the first compaction
RECORDS_PER_READ = 3  # WMH records between two compactions (each reads one count)


def _srl(z, s):
    """Logical right shift of int64 words: arithmetic shift, sign copies masked off."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix64(z):
    """SplitMix64's finaliser on int64 words (a new tensor)."""
    z = (z ^ _srl(z, 30)) * _M1
    z = (z ^ _srl(z, 27)) * _M2
    return z ^ _srl(z, 31)


def key_states(seed, tag, keys):
    """Stream states for uint64 ``seed`` and ``tag`` and an int64 tensor of keys."""
    return mix64(keys ^ _signed(_hash.domain_base(seed, tag)))


def uniforms(states, index):
    """u at ``index`` of the streams ``states`` (broadcast), as float64 in (0, 1)."""
    w = mix64(states + (index + 1) * GAMMA)
    return (_srl(w, 11).to(torch.float64) + 0.5) * TWO_M53


def _item_steps(n, device):
    """(i + 1) * gamma for the items i < n: the per-item part of every word of a row."""
    return torch.arange(1, n + 1, device=device, dtype=torch.int64) * GAMMA


def gumbel_rows(p, states):
    """argmin_i -ln(u_i) / p_i per row of ``p`` (R, V) float64, ``states`` (R,) int64."""
    w = mix64(states[:, None] + _item_steps(p.shape[1], p.device))
    e = -torch.log((_srl(w, 11).to(torch.float64) + 0.5) * TWO_M53)
    return torch.argmin(e / p, dim=1)


def _advance(j, r, c, w, t, h, live, st_time, st_height):
    """Record j of the live columns: the kernel's operations on flat or (R, V) tensors (with
    ``r`` and ``c`` the row and column of each entry, broadcastable). Returns the new time,
    height and the columns taken at this record."""
    idx = c + (j << RECORD_SHIFT)
    t = torch.where(live, t + (-torch.log(uniforms(st_time[r], idx))) / h, t)
    h = torch.where(live, h * uniforms(st_height[r], idx), h)
    return t, h, live & (h <= w)


def wmh_rows(p, st_time, st_height):
    """The records race per row of ``p`` (R, V) float64 with int64 stream states (R,).

    Record j of column i draws index i + (j << 32) from both streams: the waiting time
    -ln(u_time) / h and the new height h * u_height, the same operations as the kernel (t
    starts at 0, h at 1). A column is taken at its first record with height <= p_i; it is
    dropped once its time passes its row's best taking time (it could only take later), and
    the winner is the lowest column among the earliest takings. The first ``DENSE_RECORDS``
    records run over the whole (R, V) block with no read-back; after that the live columns
    are compacted (one read of their count) every ``RECORDS_PER_READ`` records. Takings go
    to a dense (R, V) table and each row's best is its minimum: no contended atomics.
    """
    rows, n = p.shape
    dev = p.device
    r = torch.arange(rows, device=dev)[:, None]
    c = torch.arange(n, device=dev)[None, :]
    t = torch.zeros(p.shape, dtype=p.dtype, device=dev)
    h = torch.ones(p.shape, dtype=p.dtype, device=dev)
    live = p > 0
    taken = torch.full(p.shape, torch.inf, dtype=p.dtype, device=dev)  # contiguous: viewed flat
    j = 0
    for j in range(DENSE_RECORDS):
        t, h, now = _advance(j, r, c, p, t, h, live, st_time, st_height)
        taken = torch.where(now, t, taken)  # a column is taken once, then dead
        best = taken.amin(dim=1, keepdim=True)
        live = live & ~now & (t <= best)
    flat_taken = taken.view(-1)
    r, c = live.nonzero(as_tuple=True)  # the read: how many (row, column) pairs live on
    w, t, h = p[r, c], t[r, c], h[r, c]
    while r.numel():
        live = torch.ones_like(w, dtype=torch.bool)
        for _ in range(RECORDS_PER_READ):
            j += 1
            t, h, now = _advance(j, r, c, w, t, h, live, st_time, st_height)
            flat_taken.scatter_reduce_(0, r * n + c, torch.where(now, t, torch.inf), "amin")
            live = live & ~now & (t <= taken.amin(dim=1)[r])
        keep = live.nonzero().squeeze(1)  # the read
        r, c, w, t, h = r[keep], c[keep], w[keep], t[keep], h[keep]
    return taken.argmin(dim=1)


def _check_rows(p, normalize, checks=()):
    """Validate the distributions ``p`` (V,) or (R, V), of any real dtype and any strides, on
    its device with one read of integers: per row whether it is clearly fine
    (:func:`~coupling.simulate.validation.clearly_fine`: no NaN, infinite or negative entry and
    the sum inside the one tolerance rule of both backends,
    :func:`~coupling.simulate.validation.sum_tolerance`), plus the caller's ``checks``
    (0-d boolean tensors) as 0/1. Rows not clearly fine go to :func:`as_distribution` on the
    host, which names the problem (or accepts). Returns the rows as a contiguous float64
    (R, V) tensor, divided by their sums on the device where ``as_distribution`` would rescale
    them (:func:`~coupling.simulate.validation.needs_rescale`; the others are divided by
    exactly 1), and the checks as Python bools. No float of the rows crosses to the host."""
    check_tensor_dtype(p, "p")
    source = p.reshape(-1, p.shape[-1])
    rows = source.detach().to(torch.float64).contiguous()
    bad = (~torch.isfinite(rows) | (rows < 0)).sum(dim=1)
    totals = rows.sum(dim=1)
    fine = clearly_fine(bad, totals, sum_tolerance(p.dtype, rows.shape[1]), normalize)
    flags = torch.cat([fine, *(torch.reshape(x, (1,)) for x in checks)]).to(torch.int8).tolist()
    count = rows.shape[0]
    for r in range(count):
        if not flags[r]:
            as_distribution(source[r], f"p[{r}]" if count > 1 else "p", normalize=normalize)
    scale = torch.where(needs_rescale(totals, normalize), totals, 1.0)
    return rows / scale[:, None], [bool(x) for x in flags[count:]]


def _device_keys(x, name, device):
    """``x`` (an int, array or tensor of ints) as an int64 tensor on ``device``, and the
    scalars its range check reads there (none when the host has checked it already): the least
    entry, or for a uint64 tensor, whose entries from 2**63 up read as negative int64, how many
    do so and the greatest of them."""
    if not isinstance(x, torch.Tensor):
        return torch.as_tensor(as_key_array(x, name).astype("int64"), device=device), ()
    check_tensor_dtype(x, name, integer=True)
    if x.dtype == torch.uint64:
        keys = x.to(device).view(torch.int64)  # the same 64 bits
        if not keys.numel():
            return keys, ()
        wrapped = keys < 0
        top = torch.where(wrapped, keys, torch.iinfo(torch.int64).min).max()
        return keys, (wrapped.sum(), top)
    keys = x.to(device=device, dtype=torch.int64)
    return keys, (keys.min(),) if keys.numel() else ()


def _check_keys(checks):
    """Range checks of :func:`_device_keys`, ``(name, tensor, scalars)`` each, in one read;
    the message is the host's (:func:`check_key_range`), with the values the caller gave."""
    scalars = [x for _, _, values in checks for x in values]
    if not scalars:
        return
    read = iter(torch.stack([x.to(torch.int64) for x in scalars]).cpu().tolist())
    for name, x, values in checks:
        if not values:  # checked on the host
            continue
        if x.dtype == torch.uint64:
            wrapped, top = next(read), next(read)
            if wrapped:
                check_key_range(name, 0, top + 2**64)
        else:
            check_key_range(name, next(read), 0)


def checked_rows(p, seed, key, normalize):
    """The validated seed, the rows (R, V) float64 (rescaled as :func:`_check_rows` says) and
    the keys as an int64 tensor on the rows' device."""
    seed = as_seed(seed)
    keys, checks = _device_keys(key, "key", p.device)
    check_shapes(p.shape, keys.shape)
    _check_keys([("key", key, checks)])
    rows, _ = _check_rows(p, normalize)
    return seed, rows, keys


def solo_sample(protocol, p, seed, key, normalize, tags):
    """One party's samples for tensor input (``gumbel`` or ``wmh``, with the uint64 tags of
    its domains): the torch twin of ``coupling.simulate.protocols._solo``."""
    seed, rows, keys = checked_rows(p, seed, key, normalize)
    flat = keys.reshape(-1)
    states = [key_states(seed, tag, flat) for tag in tags]
    race = gumbel_rows if protocol == "gumbel" else wmh_rows
    if p.ndim == 2:
        return race(rows, *states)
    if not flat.numel():  # no keys, no draws: the numpy path's empty answer
        return torch.empty(keys.shape, dtype=torch.int64, device=rows.device)
    # one distribution, many keys: race it once per key, in chunks that bound the memory
    step = max(1, CHUNK_ELEMENTS // rows.shape[1])
    out = [race(rows.expand(min(step, flat.numel() - s), -1), *(st[s : s + step] for st in states))
           for s in range(0, flat.numel(), step)]  # fmt: skip
    return torch.cat(out).reshape(keys.shape)


def inverse_cdf_sample(p, u):
    """Smallest i with cumsum(p)[i] > u * sum(p) per row (never an item of zero mass)."""
    check_shapes(p.shape, p.shape[:-1])
    count = p.shape[0] if p.ndim == 2 else 1
    if isinstance(u, torch.Tensor):
        if not u.dtype.is_floating_point:
            raise TypeError(f"u must be a float or a float tensor, got dtype {u.dtype}")
        u = u.to(device=p.device, dtype=torch.float64).reshape(-1)
        if u.numel() != count:
            raise ValueError(f"u must hold one value per row ({count}), got {u.numel()}")
        rows, (in_range,) = _check_rows(p, True, (((u >= 0) & (u < 1)).all(),))
        if not in_range:  # the error path alone reads the values
            low, high = float(u.min()), float(u.max())
            raise ValueError(f"u must lie in [0, 1), got {low if not low >= 0 else high!r}")
    else:
        u = float(u)
        rows, _ = _check_rows(p, True)
        if not 0.0 <= u < 1.0:
            raise ValueError(f"u must lie in [0, 1), got {u!r}")
        u = torch.full((count,), u, dtype=torch.float64, device=p.device)
    cdf = torch.cumsum(rows, dim=1)
    n = cdf.shape[1]
    i = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True)[:, 0]
    rises = torch.ones_like(cdf, dtype=torch.int8)  # item 0 or a step of the cdf
    rises[:, 1:] = (cdf[:, 1:] != cdf[:, :-1]).to(torch.int8)
    last = n - 1 - torch.argmax(rises.flip(1), dim=1)  # rounding at the top: last item with mass
    out = torch.where(i >= n, last, i)
    return out.reshape(p.shape[:-1])


def uniform(seed, tag, key, index):
    """u(seed, tag, key, index) broadcast over tensors or ints, on the tensors' device."""
    device = next(x.device for x in (key, index) if isinstance(x, torch.Tensor))
    seed = as_seed(seed)
    parts = {name: _device_keys(x, name, device) for name, x in (("key", key), ("index", index))}
    _check_keys([(name, x, parts[name][1]) for name, x in (("key", key), ("index", index))])
    keys, idx = torch.broadcast_tensors(parts["key"][0], parts["index"][0])
    return uniforms(key_states(seed, tag, keys), idx)
