"""Declarative sweeps over families x n x parameters x protocols x engines.

A sweep is a list of cells, each one distribution pair (family, n, parameters, replicate);
a cell's result holds the exact value of every protocol, Monte Carlo estimates for the chosen
protocols and engines, and the bounds. Each cell's randomness is a function of the sweep seed
and the cell's own parameters only (BLAKE2b of both), so results do not depend on scheduling
order, worker count or executor. Results go to a SQLite store one transaction per batch:
a crash or kill -9 loses at most uncommitted cells, never duplicates or corrupts one, and a
rerun skips every cell already stored.
"""

import hashlib
import inspect
import itertools
import json
import sqlite3
import tomllib
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from simulate.exact import PROTOCOLS, collision_probability, gumbel_lower_bound, worst_case_bound
from simulate.families import FAMILIES, make_pair
from simulate.montecarlo import ENGINES, estimate

__all__ = [
    "SweepSpec",
    "cell_seed",
    "expand_cells",
    "load_spec",
    "read_results",
    "run_cell",
    "run_sweep",
    "summarise",
]


@dataclass(frozen=True)
class SweepSpec:
    """What to compute. ``blocks`` are dicts with ``family``, ``n`` and ``params`` (each value
    a scalar or a list: their Cartesian product is taken) and an optional ``replicates``."""

    blocks: tuple
    seed: int = 0
    protocols: tuple = ("gumbel", "wmh", "optimal", "independent")  # exact values
    mc_protocols: tuple = ("gumbel", "wmh")
    engines: tuple = ("fast",)
    trials: int = 100_000

    def __post_init__(self):
        for name, values, allowed in (
            ("protocols", self.protocols, PROTOCOLS),
            ("mc_protocols", self.mc_protocols, PROTOCOLS),
            ("engines", self.engines, ENGINES),
        ):
            for v in values:
                if v not in allowed:
                    raise ValueError(f"unknown {name[:-1]} {v!r} in sweep; choose from {allowed}")
        if not isinstance(self.trials, int) or self.trials < 1:
            raise ValueError(f"trials must be a positive int, got {self.trials!r}")
        if not self.blocks:
            raise ValueError("a sweep needs at least one block")


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def load_spec(path):
    """Read a sweep from TOML: top-level seed/trials/protocols/mc_protocols/engines and
    ``[[block]]`` tables with family, n, replicates and a ``[block.params]`` table."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    blocks = data.pop("block", None)
    if not blocks:
        raise ValueError(f"{path}: no [[block]] tables")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    unknown = set(kwargs) - {"seed", "trials", "protocols", "mc_protocols", "engines"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    return SweepSpec(blocks=tuple(blocks), **kwargs)


def _accepted(family):
    return set(inspect.signature(FAMILIES[family]).parameters) - {"n", "seed"}


def expand_cells(spec):
    """All cells of a sweep, in a fixed order, each a JSON-able dict with a stable ``id``.

    A block's parameters go to each of its families that takes them; a parameter that none
    of the block's families takes is an error. Cells that coincide are listed once.
    """
    cells = {}
    for block in spec.blocks:
        unknown = set(block) - {"family", "n", "params", "replicates"}
        if unknown:
            raise ValueError(f"unknown block keys {sorted(unknown)}")
        params = block.get("params", {})
        families = _as_list(block["family"])
        for family in families:
            if family not in FAMILIES:
                raise ValueError(f"unknown family {family!r}; choose one of {', '.join(FAMILIES)}")
        stray = set(params) - set().union(*(_accepted(f) for f in families))
        if stray:
            raise ValueError(f"no family in {families} takes the parameters {sorted(stray)}")
        for family in families:
            names = sorted(set(params) & _accepted(family))
            for n in _as_list(block["n"]):
                for values in itertools.product(*(_as_list(params[k]) for k in names)):
                    for rep in range(int(block.get("replicates", 1))):
                        cell = {
                            "family": family,
                            "n": int(n),
                            "params": dict(zip(names, values)),
                            "replicate": rep,
                        }
                        cell["id"] = _cell_id(cell)
                        cells.setdefault(cell["id"], cell)
    return list(cells.values())


def _canonical(cell):
    return json.dumps({k: cell[k] for k in ("family", "n", "params", "replicate")}, sort_keys=True)


def _cell_id(cell):
    return hashlib.blake2b(_canonical(cell).encode(), digest_size=10).hexdigest()


def cell_seed(sweep_seed, cell, purpose):
    """64-bit seed for one use (``pair`` or ``mc``) of one cell: BLAKE2b of all three."""
    text = f"{int(sweep_seed)}|{purpose}|{_canonical(cell)}"
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def run_cell(cell, spec):
    """Compute one cell: a flat dict of results (a row of the output table)."""
    pair = make_pair(
        cell["family"], cell["n"], seed=cell_seed(spec.seed, cell, "pair") % 2**63, **cell["params"]
    )
    p, q = pair.p, pair.q
    row = {
        "id": cell["id"],
        "family": cell["family"],
        "n": cell["n"],
        "params": json.dumps(cell["params"], sort_keys=True),
        "replicate": cell["replicate"],
        "D": pair.D,
        "gumbel_lower_bound": gumbel_lower_bound(p, q),
        "worst_case_bound": worst_case_bound(pair.D),
    }
    for proto in spec.protocols:
        row[f"exact_{proto}"] = collision_probability(p, q, proto)
    mc_seed = cell_seed(spec.seed, cell, "mc")
    for proto in spec.mc_protocols:
        for engine in spec.engines:
            r = estimate(p, q, proto, spec.trials, seed=mc_seed, engine=engine)
            key = f"mc_{proto}_{engine}"
            row[key] = r.value
            row[f"{key}_lo"] = r.ci_low
            row[f"{key}_hi"] = r.ci_high
    return row


def _run_batch(cells, spec):
    numba.set_num_threads(1)  # parallelism comes from the executor's workers
    return [run_cell(c, spec) for c in cells]


def _open_store(path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS cells (id TEXT PRIMARY KEY, row TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    return db


def _check_meta(db, spec):
    fingerprint = json.dumps(
        [spec.seed, list(spec.protocols), list(spec.mc_protocols), list(spec.engines), spec.trials]
    )
    found = db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()
    if found is None:
        with db:
            db.execute("INSERT INTO meta VALUES ('settings', ?)", (fingerprint,))
    elif found[0] != fingerprint:
        raise ValueError(
            f"the store was made with other settings ({found[0]}); use a new output directory"
        )


def run_sweep(spec, store, executor, *, batch=20, progress=None):
    """Run every cell of ``spec`` not yet in the SQLite file ``store``; returns (done, total).

    ``executor`` is any ``concurrent.futures`` executor (local processes, or a dask
    ``Client.get_executor()``); ``progress(k)`` is called as k more cells are stored.
    """
    cells = expand_cells(spec)
    db = _open_store(store)
    try:
        _check_meta(db, spec)
        done = {r[0] for r in db.execute("SELECT id FROM cells")}
        todo = [c for c in cells if c["id"] not in done]
        if progress is not None and len(done):
            progress(len(cells) - len(todo))
        pending = {
            executor.submit(_run_batch, todo[i : i + batch], spec)
            for i in range(0, len(todo), batch)
        }
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                rows = fut.result()
                with db:  # one transaction per batch: all of it or none of it
                    db.executemany(
                        "INSERT OR IGNORE INTO cells VALUES (?, ?)",
                        [(r["id"], json.dumps(r)) for r in rows],
                    )
                if progress is not None:
                    progress(len(rows))
        stored = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    finally:
        db.close()
    return stored, len(cells)


def read_results(store, spec=None):
    """Rows from a store, in the sweep's cell order when ``spec`` is given (else by id)."""
    db = sqlite3.connect(store)
    try:
        rows = {k: json.loads(v) for k, v in db.execute("SELECT id, row FROM cells")}
    finally:
        db.close()
    if spec is None:
        return [rows[k] for k in sorted(rows)]
    return [rows[c["id"]] for c in expand_cells(spec) if c["id"] in rows]


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
