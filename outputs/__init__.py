"""Results on disk: atomic text and binary writes, CSV and Markdown tables, figure files.

The leaf of the package graph: it imports nothing from this project, and every layer above
it (``simulate``, ``proofs``, ``paper_repro``, ``reports``, the CLI) writes files through it.
A write goes to a temporary file in the target's directory, created with mode 0666 less the
process umask (as ``open`` would), and is then renamed over the target, so a reader sees the
old file or the new one, never half of one; a failed write (a full disk, say) leaves the old
file untouched, and ends in a :class:`WriteError` that names the file (a full disk, a file
made immutable, a directory where the file should be). Runs that must not share a directory
take :class:`coupling.outputs.lock.ResultsDirectory`.
"""

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import secrets
from pathlib import Path

__all__ = [
    "WriteError",
    "atomic_write_bytes",
    "atomic_write_text",
    "csv_text",
    "format_table",
    "json_text",
    "markdown_table",
    "open_in_place",
    "remove_file",
    "safe_name",
    "save_figure",
    "slug",
    "write_json",
    "write_table",
]

FIGURE_FORMATS = ("png", "pdf")
FIGURE_DPI = 150


class WriteError(OSError):
    """A results file that could not be written (or removed): ``str()`` is one line naming the
    file and the reason; a file it would have replaced is left as it was."""

    def __init__(self, path, cause, action="write"):
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))
        self.action = action

    def __str__(self):
        return f"cannot {self.action} {self.filename}: {self.strerror}"


def open_in_place(path, flags, *, reported=None):
    """``os.open(path, flags)`` with mode 0o666 less the umask, after creating the directories
    above ``path``; :class:`WriteError` naming ``reported`` (default ``path``) if either fails."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, flags, 0o666)
    except OSError as exc:
        raise WriteError(path if reported is None else reported, exc) from exc


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file and an atomic rename.

    Raises :class:`WriteError` (an OSError) when the file cannot be written or replaced; the
    old file, if any, is then untouched and no temporary file is left behind.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL on a fresh random name
    fd = open_in_place(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, reported=path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise WriteError(path, exc) from exc
        raise
    return path


def remove_file(path):
    """Remove the file ``path`` if it exists; :class:`WriteError` if it cannot be removed."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        raise WriteError(path, exc, "remove") from exc


def atomic_write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and an atomic rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _strict(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # "inf", "-inf", "nan": strict JSON has no such numbers
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def json_text(obj, *, indent=1):
    """``obj`` as strict JSON text (RFC 8259): non-finite floats become the strings "inf",
    "-inf" and "nan", numpy scalars become numbers, other objects (Fractions, paths) strings."""

    def default(o):
        if hasattr(o, "item") and callable(o.item):  # numpy scalars and 0-d arrays
            return _strict(o.item())
        if hasattr(o, "tolist"):
            return _strict(o.tolist())
        return str(o)

    return json.dumps(_strict(obj), indent=indent, default=default, allow_nan=False)


def write_json(path, obj):
    """``obj`` as strict JSON (see :func:`json_text`), written atomically."""
    return atomic_write_text(path, json_text(obj) + "\n")


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


def csv_text(rows):
    """Rows (dicts) as CSV text; the columns are every key, in order of first appearance."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _cell(v):
    if isinstance(v, float):
        return f"{v:.2e}" if 0 < abs(v) < 1e-3 else f"{v:.3f}"
    return str(v)


def markdown_table(rows, title):
    """Rows (dicts with the same keys) as a titled Markdown table."""
    body = format_table(
        list(rows[0]), [[_cell(v) for v in r.values()] for r in rows], markdown=True
    )
    return f"# {title}\n\n{body}\n"


def write_table(rows, stem, title):
    """``stem``.csv and ``stem``.md (a titled Markdown table), atomically; returns the paths."""
    stem = Path(stem)
    paths = [stem.with_suffix(".csv"), stem.with_suffix(".md")]
    atomic_write_text(paths[0], csv_text(rows))
    atomic_write_text(paths[1], markdown_table(rows, title))
    return paths


def save_figure(fig, stem, config=None):
    """Write ``stem``.png, ``stem``.pdf and (with ``config``) ``stem``.json; returns the paths.

    ``fig`` is a matplotlib Figure; rendering goes through the figure's own canvas, so no
    backend is selected and no global pyplot state is touched.
    """
    stem = Path(stem)
    paths = []
    for ext in FIGURE_FORMATS:
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=FIGURE_DPI, bbox_inches="tight")
        paths.append(atomic_write_bytes(stem.with_suffix(f".{ext}"), buf.getvalue()))
    if config is not None:
        text = json.dumps(json.loads(json_text(config)), indent=2, sort_keys=True)
        paths.append(atomic_write_text(stem.with_suffix(".json"), text))
    return paths


def slug(text, limit=40):
    """Lower-case ASCII letters and digits of ``text`` joined by '-', at most ``limit`` chars."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")[:limit]


def safe_name(text, limit=40):
    """A file-name stem for arbitrary user text: its :func:`slug` plus an 8-hex-digit hash,
    so two texts with the same slug never share a file and no name is too long."""
    digest = hashlib.blake2b(str(text).encode("utf-8"), digest_size=4).hexdigest()
    stem = slug(text, limit)
    return f"{stem}-{digest}" if stem else digest
