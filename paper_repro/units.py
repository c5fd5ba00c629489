"""Resumable units of work: one JSON record per unit, with the settings that made them.

An experiment stores each unit atomically as ``<dir>/units/<name>.json`` and its settings as
``<dir>/settings.json``. A rerun skips every unit already stored, so an interrupted run
resumes; a rerun with other settings is refused, naming what differs, before any work (units
made under other settings would be silently mixed with new ones).
"""

import json
from pathlib import Path

from coupling.outputs import write_json

__all__ = ["UnitStore", "settings_difference"]


def _canonical(settings):
    """Settings as they read back from JSON (tuples become lists)."""
    return json.loads(json.dumps(settings, sort_keys=True))


def settings_difference(stored, wanted):
    """``"key: stored X, now Y"`` for every setting that differs (empty when equal)."""
    stored, wanted = _canonical(stored), _canonical(wanted)
    diffs = []
    for key in sorted(set(stored) | set(wanted)):
        if stored.get(key, "(absent)") != wanted.get(key, "(absent)"):
            diffs.append(f"{key}: stored {stored.get(key, '(absent)')}, "
                         f"now {wanted.get(key, '(absent)')}")  # fmt: skip
    return diffs


class UnitStore:
    """Units of one experiment under ``directory``, made with ``settings`` (a JSON-able dict).

    Construction checks the stored settings and raises ValueError on a mismatch; it writes
    nothing (the settings are recorded with the first unit).
    """

    def __init__(self, directory, settings):
        self.directory = Path(directory)
        self.settings = _canonical(settings)
        path = self.directory / "settings.json"
        if path.exists():
            diffs = settings_difference(json.loads(path.read_text()), self.settings)
            if diffs:
                raise ValueError(
                    f"{self.directory} holds results made with other settings "
                    f"({'; '.join(diffs)}); use another --out or remove it"
                )
        elif any((self.directory / "units").glob("*.json")):
            raise ValueError(
                f"{self.directory} holds units without recorded settings (an older version); "
                "use another --out or remove it"
            )

    def path(self, name):
        """The file unit ``name`` is stored in."""
        return self.directory / "units" / f"{name}.json"

    def done(self, name):
        """Whether unit ``name`` is stored."""
        return self.path(name).exists()

    def get(self, name, compute):
        """The stored record ``name``, or ``compute()`` stored first."""
        path = self.path(name)
        if path.exists():
            return json.loads(path.read_text())
        record = compute()
        if not (self.directory / "settings.json").exists():
            write_json(self.directory / "settings.json", self.settings)
        write_json(path, record)
        return record
