"""A finished sweep as files: a CSV table, a Markdown summary, and one figure per family."""

from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from simulate.sweep import read_results

__all__ = ["summarise", "write_outputs"]


def summarise(rows):
    """Per (family, n, params): mean D and mean exact value of each protocol."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["family"], r["n"], r["params"])].append(r)
    columns = sorted({k for r in rows for k in r if k.startswith("exact_")})
    table = []
    for (family, n, params), rs in groups.items():
        line = {"family": family, "n": n, "params": params, "pairs": len(rs)}
        line["mean D"] = float(np.mean([r["D"] for r in rs]))
        for c in columns:
            line[f"mean {c[6:]}"] = float(np.mean([r[c] for r in rs]))
        line["min gumbel - wmh"] = (
            float(min(r["exact_gumbel"] - r["exact_wmh"] for r in rs))
            if "exact_gumbel" in columns and "exact_wmh" in columns
            else float("nan")
        )
        table.append(line)
    return table


def write_outputs(store, spec, out_dir):
    """Write results.csv, summary.md and summary_<family>.png/.pdf; returns the paths."""
    from coupling._output import atomic_write_text, csv_text, format_table
    from figures._save import save_figure
    from figures.bounds import sweep_summary_figure

    out_dir = Path(out_dir)
    rows = read_results(store, spec)
    paths = []
    if not rows:
        return paths
    path = out_dir / "results.csv"
    atomic_write_text(path, csv_text(rows))
    paths.append(path)
    summary = summarise(rows)
    headers = list(summary[0])
    cells = [[f"{v:.6f}" if isinstance(v, float) else v for v in line.values()] for line in summary]
    path = out_dir / "summary.md"
    atomic_write_text(
        path, "# Sweep summary\n\n" + format_table(headers, cells, markdown=True) + "\n"
    )
    paths.append(path)
    for family in dict.fromkeys(r["family"] for r in rows):
        fig = sweep_summary_figure(rows, family)
        paths += save_figure(
            fig, out_dir / f"summary_{family}", {"family": family, "seed": spec.seed}
        )
        plt.close(fig)
    return paths
