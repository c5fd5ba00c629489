"""Resumable units of work: one JSON file per unit, each with the settings that made it.

An experiment stores each unit atomically as ``<dir>/units/<name>.json``, holding the unit's
record and the settings it was made with, and the settings once more as
``<dir>/settings.json``. A rerun skips every unit already stored, so an interrupted run
resumes. Before any work a rerun compares its settings with ``settings.json`` and with every
stored unit's, and refuses a difference, naming it: a unit made under other settings (by an
earlier version whose settings had fewer fields, or by another run that wrote into the same
directory) would otherwise be mixed silently with new ones.
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

    Construction checks ``settings.json`` and every stored unit and raises ValueError, naming
    the file and each differing setting, on a mismatch; it writes nothing (the settings are
    recorded with the first unit).
    """

    def __init__(self, directory, settings):
        self.directory = Path(directory)
        self.settings = _canonical(settings)
        path = self.directory / "settings.json"
        units = sorted((self.directory / "units").glob("*.json"))
        if path.exists():
            self._check(self.directory, json.loads(path.read_text()))
        elif units:
            raise ValueError(
                f"{self.directory} holds units without recorded settings (an older version); "
                "use another --out or remove it"
            )
        for unit in units:
            self._read(unit)

    def _check(self, where, stored):
        diffs = settings_difference(stored, self.settings)
        if diffs:
            raise ValueError(
                f"{where} holds results made with other settings ({'; '.join(diffs)}); "
                "use another --out or remove it"
            )

    def _read(self, path):
        """The record stored in ``path``, once its settings are checked."""
        try:
            stored = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not a stored unit ({exc}); remove it") from None
        if not (isinstance(stored, dict) and set(stored) == {"settings", "record"}):
            raise ValueError(
                f"{path} holds a unit without its settings (an older version); "
                "use another --out or remove it"
            )
        self._check(path, stored["settings"])
        return stored["record"]

    def path(self, name):
        """The file unit ``name`` is stored in."""
        return self.directory / "units" / f"{name}.json"

    def get(self, name, compute):
        """The stored record ``name`` (its settings checked again), or ``compute()`` stored
        first, with the settings."""
        path = self.path(name)
        if path.exists():
            return self._read(path)
        record = compute()
        if not (self.directory / "settings.json").exists():
            write_json(self.directory / "settings.json", self.settings)
        write_json(path, {"settings": self.settings, "record": record})
        return record
