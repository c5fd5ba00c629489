"""Saving figures: PNG and PDF side by side, with the configuration that made them."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def save_figure(fig, stem, config=None):
    """Write ``stem``.png, ``stem``.pdf and (with ``config``) ``stem``.json; returns the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        path = stem.with_suffix(f".{ext}")
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")
        tmp.replace(path)
        paths.append(path)
    if config is not None:
        path = stem.with_suffix(".json")
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True, default=str))
        tmp.replace(path)
        paths.append(path)
    return paths
