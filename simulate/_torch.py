r"""The public randomness and the one-party samplers on torch tensors, on any device.

Imported only when a sampler is handed a tensor (:mod:`coupling.simulate._batch`), so ``import
simulate`` never needs torch. Same specification as :mod:`coupling.simulate.randomness`, same races
as :mod:`coupling.simulate._kernels`, written as whole-tensor operations so nothing but integers
(and one small validation read per call) crosses to the host:

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
from coupling.simulate._batch import check_shapes, clearly_fine
from coupling.simulate._kernels import RECORD_SHIFT
from coupling.simulate.validation import as_distribution, as_key_array, as_seed


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
    t = torch.zeros_like(p)
    h = torch.ones_like(p)
    live = p > 0
    taken = torch.full_like(p, torch.inf)
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


def _check_rows(p, normalize, extra=()):
    """Validate float64 rows (R, V) on the device with one read: per row the count of NaN,
    infinite or negative entries and the sum, plus the ``extra`` scalars (read back too).
    Rows not clearly fine go to :func:`as_distribution` on the host, which names the problem.
    Returns the rows (rescaled if ``normalize``) and the extra values."""
    bad = (~torch.isfinite(p) | (p < 0)).sum(dim=1).to(torch.float64)
    total = p.sum(dim=1)
    summary = torch.cat([bad, total, *(torch.reshape(x, (1,)).double() for x in extra)])
    values = summary.tolist()
    rows = p.shape[0]
    for r in range(rows):
        if not clearly_fine(values[r], values[rows + r], normalize):
            name = f"p[{r}]" if rows > 1 else "p"
            as_distribution(p[r].detach().cpu().double().numpy(), name, normalize=normalize)
    return (p / total[:, None] if normalize else p), values[2 * rows :]


def _key_tensor(key, device):
    """Keys as an int64 tensor on ``device`` and whether they need a range check there."""
    if isinstance(key, torch.Tensor):
        if key.dtype.is_floating_point or key.dtype.is_complex or key.dtype == torch.bool:
            raise TypeError(f"key must be an int or an integer tensor, got dtype {key.dtype}")
        return key.to(device=device, dtype=torch.int64), True
    keys = as_key_array(key, "key")  # validated on the host
    return torch.as_tensor(keys.astype("int64"), device=device), False


def _as_float64_rows(p):
    if p.dtype.is_complex or p.dtype == torch.bool:
        raise TypeError(f"p must have a real numeric dtype, got dtype {p.dtype}")
    return p.detach().to(torch.float64)


def checked_rows(p, seed, key, normalize):
    """The validated seed, the rows (R, V) float64 (rescaled if ``normalize``) and the keys as
    an int64 tensor on the rows' device: one read for the checks."""
    seed = as_seed(seed)
    keys, device_keys = _key_tensor(key, p.device)
    check_shapes(p.shape, keys.shape)
    rows = _as_float64_rows(p).reshape(-1, p.shape[-1])
    extra = (keys.min(),) if device_keys and keys.numel() else ()
    rows, low = _check_rows(rows, normalize, extra)
    if low and low[0] < 0:
        raise ValueError(f"key entries must lie in [0, 2**63), got {int(low[0])}")
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
    # one distribution, many keys: race it once per key, in chunks that bound the memory
    step = max(1, CHUNK_ELEMENTS // rows.shape[1])
    out = [race(rows.expand(min(step, flat.numel() - s), -1), *(st[s : s + step] for st in states))
           for s in range(0, flat.numel(), step)]  # fmt: skip
    return torch.cat(out).reshape(keys.shape)


def inverse_cdf_sample(p, u):
    """Smallest i with cumsum(p)[i] > u * sum(p) per row (never an item of zero mass)."""
    rows = _as_float64_rows(p)
    check_shapes(rows.shape, rows.shape[:-1])
    rows = rows.reshape(-1, rows.shape[-1])
    if isinstance(u, torch.Tensor):
        if not u.dtype.is_floating_point:
            raise TypeError(f"u must be a float or a float tensor, got dtype {u.dtype}")
        u = u.to(device=p.device, dtype=torch.float64).reshape(-1)
        if u.numel() != rows.shape[0]:
            raise ValueError(f"u must hold one value per row ({rows.shape[0]}), got {u.numel()}")
        _, (low, high) = _check_rows(rows, True, (u.min(), u.max()))
    else:
        low = high = float(u)
        _check_rows(rows, True)
        u = torch.full((rows.shape[0],), low, dtype=torch.float64, device=p.device)
    if not 0.0 <= low <= high < 1.0:
        raise ValueError(f"u must lie in [0, 1), got {low if low < 0 else high!r}")
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
    parts, checks = [], []
    for name, x in (("key", key), ("index", index)):
        if isinstance(x, torch.Tensor):
            if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
                raise TypeError(f"{name} must be an int or an integer tensor, got {x.dtype}")
            x = x.to(device=device, dtype=torch.int64)
            if x.numel():
                checks.append(x.min())
        else:
            x = torch.as_tensor(as_key_array(x, name).astype("int64"), device=device)
        parts.append(x)
    if checks and min(torch.stack(checks).tolist()) < 0:
        raise ValueError("key and index entries must lie in [0, 2**63)")
    keys, idx = torch.broadcast_tensors(*parts)
    return uniforms(key_states(as_seed(seed), tag, keys), idx)
