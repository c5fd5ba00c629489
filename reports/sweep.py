"""A finished sweep as files: a CSV table, a Markdown summary, and one figure per family."""

from pathlib import Path

from coupling.figures.bounds import sweep_summary_figure
from coupling.outputs import atomic_write_text, csv_text, format_table, remove_file, save_figure
from coupling.simulate.sweep import read_results, summarise

__all__ = ["write_sweep_outputs"]


def write_sweep_outputs(store, spec, out_dir):
    """Write results.csv, summary.md and summary_<family>.png/.pdf/.json; returns the paths.

    A summary figure of a family the store does not hold is removed, so no stale figure is
    left beside the new ones.
    """
    out_dir = Path(out_dir)
    rows = read_results(store, spec)
    paths = []
    if not rows:
        return paths
    paths.append(atomic_write_text(out_dir / "results.csv", csv_text(rows)))
    summary = summarise(rows)
    headers = list(summary[0])
    cells = [[f"{v:.6f}" if isinstance(v, float) else v for v in line.values()] for line in summary]
    text = "# Sweep summary\n\n" + format_table(headers, cells, markdown=True) + "\n"
    paths.append(atomic_write_text(out_dir / "summary.md", text))
    for family in dict.fromkeys(r["family"] for r in rows):
        fig = sweep_summary_figure(rows, family)
        paths += save_figure(
            fig, out_dir / f"summary_{family}", {"family": family, "seed": spec.seed}
        )
    for stale in set(out_dir.glob("summary_*.*")) - set(paths):
        if stale.suffix in (".png", ".pdf", ".json"):
            remove_file(stale)
    return paths
