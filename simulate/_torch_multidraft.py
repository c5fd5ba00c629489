"""The list coupling's per-slot races on torch tensors, on any device: the twin of
:func:`coupling.simulate._multidraft.gls_columns_serial`, with the uniforms of
:mod:`coupling.simulate._torch` (bit for bit the numba kernels') and the same race per slot (first
index on ties).

Slot k's clock for item i is the uniform at index ``i + k * 2**32``: the word mixes
``state + (i + 1 + k * 2**32) * GAMMA``, so slot k is the row's stream state moved on by
``k * (2**32 * GAMMA)`` modulo 2**64, then the ordinary race over the items.
"""

import torch
from coupling.simulate import _multidraft
from coupling.simulate._torch import (
    CHUNK_ELEMENTS,
    TWO_M53,
    _item_steps,
    _signed,
    _srl,
    checked_rows,
    key_states,
    mix64,
)

SLOT_STEP = int(_multidraft.SLOT_STEP)


def _slot_offset(slot):
    """slot * SLOT_STEP modulo 2**64 as an int64 (the tensor sum then wraps like uint64)."""
    return _signed(slot * SLOT_STEP % 2**64)


def _slot_races(rows, states, k):
    """(clock, item), each (R, K): per row and slot the minimum of -ln(u_i) / p_i and its item."""
    steps = _item_steps(rows.shape[1], rows.device)
    clocks, items = [], []
    for slot in range(k):  # one (R, V) block at a time bounds the memory
        w = mix64((states + _slot_offset(slot))[:, None] + steps)
        e = -torch.log((_srl(w, 11).to(torch.float64) + 0.5) * TWO_M53)
        best, item = torch.min(e / rows, dim=1)
        clocks.append(best)
        items.append(item)
    return torch.stack(clocks, dim=1), torch.stack(items, dim=1)


def gls_columns(p, k, seed, key, normalize, tag):
    """Tensor twin of :func:`coupling.simulate.multidraft.gls_columns`: (clock, item) of shape
    S + (K,) for keys of shape S (one distribution) or (R, K) for rows (R, V)."""
    seed, rows, keys = checked_rows(p, seed, key, normalize)
    states = key_states(seed, tag, keys.reshape(-1))
    if p.ndim == 2:
        return _slot_races(rows, states, k)
    shape = (*keys.shape, k)
    if not states.numel():  # no keys, no races: the numpy path's empty answer
        empty = torch.empty(shape, device=rows.device)
        return empty.to(torch.float64), empty.to(torch.int64)
    step = max(1, CHUNK_ELEMENTS // rows.shape[1])
    parts = [_slot_races(rows.expand(min(step, states.numel() - s), -1), states[s : s + step], k)
             for s in range(0, states.numel(), step)]  # fmt: skip
    return (torch.cat([c for c, _ in parts]).reshape(shape),
            torch.cat([i for _, i in parts]).reshape(shape))  # fmt: skip
