"""Plain-text and Markdown tables, atomic file writes, and tqdm progress for the CLI."""

import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm


def format_table(headers, rows, *, markdown=False):
    """Rows of already-formatted cells as an aligned text table (or a Markdown table)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for k, row in enumerate(cells):
        padded = [c.ljust(w) for c, w in zip(row, widths)]
        lines.append(("| " + " | ".join(padded) + " |") if markdown else "  ".join(padded))
        if k == 0:
            rule = ["-" * w for w in widths]
            lines.append(("| " + " | ".join(rule) + " |") if markdown else "  ".join(rule))
    return "\n".join(lines)


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def print_json(obj):
    json.dump(obj, sys.stdout, indent=2, default=float)
    sys.stdout.write("\n")


@contextlib.contextmanager
def progress_bar(total, desc, *, enabled=True, unit="trials"):
    """A tqdm bar on stderr yielding an ``update(k)`` callback; silent when disabled."""
    if not enabled:
        yield None
        return
    with tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr) as bar:
        yield bar.update


def csv_text(rows):
    """Rows (dicts) as CSV text; the columns are every key, in order of first appearance."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.2e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
    return str(v)


def _markdown(rows, title):
    return (
        f"# {title}\n\n"
        + format_table(list(rows[0]), [[_fmt(v) for v in r.values()] for r in rows], markdown=True)
        + "\n"
    )


def write_table(rows, stem, title):
    """``stem``.csv and ``stem``.md (a titled Markdown table), atomically; returns the paths."""
    stem = Path(stem)
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md")]
    atomic_write_text(paths[0], csv_text(rows))
    atomic_write_text(paths[1], _markdown(rows, title))
    return paths
