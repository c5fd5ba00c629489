"""Markdown pieces shared by the report's sections."""

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ReportData:
    """What a section may read: the output root, the language-model results (by experiment)
    and their configuration, the certificates, the sweep rows, timings and the command."""

    root: Path
    lm_dir: Path = None
    lm: dict = field(default_factory=dict)
    cfg: object = None
    certificates: list = field(default_factory=list)
    proofs_dir: Path = None
    sweep_rows: list = field(default_factory=list)
    sweep_dir: Path = None
    timings: dict = field(default_factory=dict)
    command: str = ""

    def link(self, path):
        """``path`` relative to the report's directory (for Markdown links and images)."""
        return Path(path).resolve().relative_to(Path(self.root).resolve()).as_posix()


def image(data, path, alt):
    return f"![{alt}]({data.link(path)})\n"


def fmt(x, digits=3):
    return f"{x:.{digits}f}"


def interval(row, key):
    return f"{row[key]:.3f} [{row[key + '_low']:.3f}, {row[key + '_high']:.3f}]"
