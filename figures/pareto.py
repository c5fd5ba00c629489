"""Figure of claim 4 item by item: how the gap J_P - WMH splits over the items at each
language-model position. Data in (per-position gaps from :func:`coupling.simulate.exact.gap_split`),
a matplotlib Figure out."""

import numpy as np
from matplotlib.figure import Figure

__all__ = ["GAP_FLOOR", "pareto_gap_figure"]

#: Positions whose whole gap is below this carry no share (Gumbel = WMH up to rounding there).
GAP_FLOOR = 1e-9
_BAND_COLORS = ("#08519c", "#4292c6", "#9ecae1", "#deebf7")


def pareto_gap_figure(totals, top_gaps, *, ks=(1, 3, 10), segments=None, title=None):
    """Top: the gap :math:`J_P - \\mathrm{WMH}` per position, with the part its largest
    item carries. Bottom: the share of the gap carried by the top-k items (per-item gaps
    :math:`G_i - W_i \\ge 0`, largest first), as nested bands, one per k in ``ks``.

    ``totals``: (positions,) gaps; ``top_gaps``: (positions, top) the largest per-item gaps,
    descending (``top >= max(ks)``); ``segments``: optional (label, count) pairs in order
    (e.g. one per prompt and drafter) marked by separators. Positions with a gap below
    ``GAP_FLOOR`` are left out of the bottom panel. Reads well for a few hundred positions.
    """
    totals = np.asarray(totals, dtype=float)
    top_gaps = np.asarray(top_gaps, dtype=float)
    if totals.ndim != 1 or top_gaps.ndim != 2 or top_gaps.shape[0] != totals.size:
        raise ValueError(
            f"need totals (positions,) and top_gaps (positions, top), got shapes "
            f"{totals.shape} and {top_gaps.shape}"
        )
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1 or ks[-1] > top_gaps.shape[1]:
        raise ValueError(f"ks must lie in [1, {top_gaps.shape[1]}] (the top kept), got {ks}")
    if segments and sum(int(c) for _, c in segments) != totals.size:
        raise ValueError(f"segments cover {sum(int(c) for _, c in segments)} positions, "
                         f"the data has {totals.size}")  # fmt: skip
    pos = np.arange(totals.size)
    live = totals > GAP_FLOOR
    share = np.full((len(ks), totals.size), np.nan)
    cum = np.cumsum(np.clip(top_gaps, 0, None), axis=1)
    for row, k in enumerate(ks):
        share[row, live] = np.minimum(cum[live, k - 1] / totals[live], 1.0)

    fig = Figure(figsize=(12, 5.8))
    grid = fig.add_gridspec(2, 2, height_ratios=[1, 1.6], width_ratios=[6, 1])
    upper = fig.add_subplot(grid[0, 0])
    lower = fig.add_subplot(grid[1, 0], sharex=upper)
    side = fig.add_subplot(grid[1, 1], sharey=lower)
    note = fig.add_subplot(grid[0, 1])
    upper.fill_between(pos, totals, step="mid", color="#bdbdbd", lw=0, label="J_P - WMH")
    upper.fill_between(pos, np.clip(top_gaps[:, 0], 0, None), step="mid", color=_BAND_COLORS[0],
                       lw=0, label="carried by the largest item")  # fmt: skip
    upper.set_ylabel("Pr[a = b] gap")
    upper.tick_params(labelbottom=False)
    upper.set_ylim(bottom=0)
    upper.legend(fontsize=8, loc="upper right")
    upper.grid(alpha=0.3)

    previous = np.zeros(totals.size)
    for row, k in enumerate(ks):
        color = _BAND_COLORS[min(row, len(_BAND_COLORS) - 1)]
        med = np.nanmedian(share[row]) if live.any() else float("nan")
        name = "largest item" if k == 1 else f"top {k} items"
        lower.fill_between(pos, previous, share[row], step="mid", color=color, lw=0,
                           label=f"{name} (median {med:.0%})")  # fmt: skip
        previous = np.where(live, share[row], np.nan)
    lower.set_ylim(0, 1.02)
    lower.set_ylabel("share of the gap")
    lower.set_xlabel("language-model position" + (" (segments in order)" if segments else ""))
    lower.legend(fontsize=8, loc="lower right")
    lower.grid(alpha=0.3)
    # right: each share's spread over the positions, and the gap-weighted share (of the
    # summed gap, the part carried by each position's top k)
    side.boxplot([share[row, live] for row in range(len(ks))], showfliers=False, widths=0.6)
    weighted = [cum[live, k - 1].sum() / totals[live].sum() if live.any() else np.nan
                for k in ks]  # fmt: skip
    side.plot(range(1, len(ks) + 1), weighted, "D", color="tab:red", ms=5)
    side.set_xticks(range(1, len(ks) + 1), [f"top {k}" for k in ks], fontsize=7)
    side.tick_params(labelleft=False)
    side.grid(alpha=0.3)
    note.axis("off")
    note.text(0, 0.9, f"{totals.size} positions\nmedian gap {np.median(totals):.3g}\n"
              f"largest gap {totals.max():.3g}\n" + "\n".join(
                  f"top {k}: {w:.0%} of the summed gap" for k, w in zip(ks, weighted))
              + "\n(red diamonds; boxes: spread\nover the positions)",
              va="top", fontsize=8)  # fmt: skip
    if (~live).any():
        lower.text(0.01, 0.03, f"left blank: {int(np.sum(~live))} of {totals.size} positions "
                   f"(gap < {GAP_FLOOR:g})", transform=lower.transAxes, fontsize=7)  # fmt: skip
    if segments:
        _mark_segments(upper, lower, segments)
    upper.set_xlim(-0.5, totals.size - 0.5)
    fig.suptitle(title or "Gumbel minus weighted MinHash, item by item (every G_i - W_i >= 0)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def _mark_segments(upper, lower, segments):
    edge = 0
    for label, count in segments:
        for ax in (upper, lower):
            if edge:
                ax.axvline(edge - 0.5, color="black", lw=0.6, alpha=0.6)
        upper.text(edge + count / 2, 1.0, str(label), transform=upper.get_xaxis_transform(),
                   ha="center", va="bottom", fontsize=7)  # fmt: skip
        edge += count
