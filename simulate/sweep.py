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
from coupling.simulate.exact import (
    PROTOCOLS,
    collision_probability,
    gumbel_lower_bound,
    worst_case_bound,
)
from coupling.simulate.families import FAMILIES, check_params, make_pair
from coupling.simulate.montecarlo import ENGINES, KEY_SPACE, estimate
from coupling.simulate.validation import as_choice, as_count

__all__ = [
    "StoreMismatch",
    "SweepSpec",
    "cell_seed",
    "count_stored",
    "expand_cells",
    "load_spec",
    "read_results",
    "run_cell",
    "run_sweep",
    "summarise",
]


_BLOCK_KEYS = ("family", "n", "params", "replicates")


@dataclass(frozen=True)
class SweepSpec:
    """What to compute. ``blocks`` are dicts with ``family``, ``n`` and ``params`` (each value
    a scalar or a list: their Cartesian product is taken) and an optional ``replicates``
    (pairs per grid point, default 1).

    Every field is checked when the spec is made, exactly (``n = 10.7``, ``replicates = "3"``
    or a negative seed are errors, never rounded or parsed), and so is every parameter value
    against its family (:func:`coupling.simulate.families.check_params`), so a bad grid is refused
    before any cell runs. Blocks are stored normalised: every value a list.
    """

    blocks: tuple
    seed: int = 0
    protocols: tuple = ("gumbel", "wmh", "optimal", "independent")  # exact values
    mc_protocols: tuple = ("gumbel", "wmh")
    engines: tuple = ("fast",)
    trials: int = 100_000

    def __post_init__(self):
        set_ = object.__setattr__  # frozen: normalise once, here
        for name, allowed in (
            ("protocols", PROTOCOLS),
            ("mc_protocols", PROTOCOLS),
            ("engines", ENGINES),
        ):
            set_(self, name, _names(getattr(self, name), name, allowed))
        if not self.protocols and not self.mc_protocols:
            raise ValueError("the sweep computes nothing: protocols and mc_protocols are empty")
        if self.mc_protocols and not self.engines:
            raise ValueError("mc_protocols asks for Monte Carlo but engines is empty")
        set_(self, "seed", as_count(self.seed, "seed", minimum=0, maximum=2**64 - 1))
        set_(self, "trials", as_count(self.trials, "trials", maximum=KEY_SPACE))
        if not isinstance(self.blocks, (list, tuple)) or not all(
            isinstance(b, dict) for b in self.blocks
        ):
            raise TypeError(
                f"blocks must be a list of tables ([[block]] in TOML), got {self.blocks!r}"
            )
        if not self.blocks:
            raise ValueError("a sweep needs at least one block")
        set_(self, "blocks", tuple(_block(b, k + 1) for k, b in enumerate(self.blocks)))


def _names(value, name, allowed):
    """A tuple of names from a list of them (or one name, as a string)."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of names, got {value!r}")
    for v in value:
        as_choice(v, name.removesuffix("s"), allowed)
    return tuple(value)


def _as_list(value, name):
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{name} is an empty list")
    return values


def _block(block, number):
    """One block checked and normalised (every value a list), or an error naming the block."""
    try:
        unknown = set(block) - set(_BLOCK_KEYS)
        if unknown:
            raise ValueError(f"unknown block keys {sorted(unknown)}")
        for key in ("family", "n"):
            if key not in block:
                raise ValueError(f"no {key!r}: every block needs family and n")
        families = [
            as_choice(f, "family", tuple(FAMILIES)) for f in _as_list(block["family"], "family")
        ]
        sizes = [as_count(n, "n") for n in _as_list(block["n"], "n")]
        params = block.get("params", {})
        if not isinstance(params, dict):
            raise TypeError(f"params must be a table of parameter values, got {params!r}")
        params = {k: _as_list(v, k) for k, v in params.items()}
        stray = set(params) - set().union(*(_accepted(f) for f in families))
        if stray:
            raise ValueError(f"no family in {families} takes the parameters {sorted(stray)}")
        out = {
            "family": families,
            "n": sizes,
            "params": params,
            "replicates": as_count(block.get("replicates", 1), "replicates"),
        }
        for family, n, values in _grid(out):
            check_params(family, n, **values)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"block {number}: {exc}") from None
    return out


def _accepted(family):
    return set(inspect.signature(FAMILIES[family]).parameters) - {"n", "seed"}


def _grid(block):
    """(family, n, params) for every grid point of a normalised block, in a fixed order."""
    for family in block["family"]:
        names = sorted(set(block["params"]) & _accepted(family))
        for n in block["n"]:
            for values in itertools.product(*(block["params"][k] for k in names)):
                yield family, n, dict(zip(names, values))


def load_spec(path):
    """Read a sweep from TOML: top-level seed/trials/protocols/mc_protocols/engines and
    ``[[block]]`` tables with family, n, replicates and a ``[block.params]`` table.

    A missing or unreadable file, invalid TOML and every field :class:`SweepSpec` refuses are
    one-line ValueErrors or TypeErrors naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no such sweep file: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    if "block" not in data:
        raise ValueError(f"{path}: no [[block]] tables")
    blocks = data.pop("block")
    unknown = set(data) - {"seed", "trials", "protocols", "mc_protocols", "engines"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    if not isinstance(blocks, list):
        raise TypeError(f"{path}: block must be [[block]] tables, got block = {blocks!r}")
    try:
        return SweepSpec(blocks=tuple(blocks), **data)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def expand_cells(spec):
    """All cells of a sweep, in a fixed order, each a JSON-able dict with a stable ``id``.

    A block's parameters go to each of its families that takes them; a parameter that none
    of the block's families takes is an error. Cells that coincide are listed once.
    """
    cells = {}
    for block in spec.blocks:
        for family, n, params in _grid(block):
            for rep in range(block["replicates"]):
                cell = {"family": family, "n": n, "params": params, "replicate": rep}
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
    # parallelism comes from the executor's workers: one numba thread each, for this batch only
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return [run_cell(c, spec) for c in cells]
    finally:
        numba.set_num_threads(before)


def _open_store(path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE IF NOT EXISTS cells (id TEXT PRIMARY KEY, row TEXT NOT NULL)")
        db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    except BaseException:
        db.close()
        raise
    return db


class StoreMismatch(ValueError):
    """A store made by another sweep (or by a version that did not record its sweep)."""


_SPEC_FIELDS = ("seed", "trials", "protocols", "mc_protocols", "engines", "blocks")


def _spec_record(spec):
    return {name: getattr(spec, name) for name in _SPEC_FIELDS}


def _differences(stored, given):
    """What differs between two spec records, field by field and block by block."""
    given = json.loads(json.dumps(given))  # tuples as lists, like the stored record
    diffs = []
    for name in _SPEC_FIELDS[:-1]:
        if stored.get(name) != given[name]:
            diffs.append(f"{name}: stored {stored.get(name)!r}, given {given[name]!r}")
    old, new = stored.get("blocks", []), given["blocks"]
    if len(old) != len(new):
        diffs.append(f"blocks: stored {len(old)}, given {len(new)}")
    for k, (a, b) in enumerate(zip(old, new)):
        for key in _BLOCK_KEYS:
            if a.get(key) != b.get(key):
                diffs.append(f"block {k + 1} {key}: stored {a.get(key)!r}, given {b.get(key)!r}")
    return diffs


def _check_meta(db, spec, store):
    """Record the whole spec with a new store; refuse to resume a store made by another one."""
    record = _spec_record(spec)
    found = db.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
    if found is None:
        if db.execute("SELECT COUNT(*) FROM meta").fetchone()[0]:
            raise StoreMismatch(
                f"the store {store} was made by an older version that did not record its "
                "sweep; use a new output directory"
            )
        with db:
            db.execute("INSERT INTO meta VALUES ('spec', ?)", (json.dumps(record),))
        return
    diffs = _differences(json.loads(found[0]), record)
    if diffs:
        raise StoreMismatch(
            f"the store {store} was made with other settings ({'; '.join(diffs)}); "
            "resume it with the same sweep or use a new output directory"
        )


def _insert(db, rows):
    with db:  # one transaction per batch: all of it or none of it
        db.executemany(
            "INSERT OR IGNORE INTO cells VALUES (?, ?)", [(r["id"], json.dumps(r)) for r in rows]
        )


def run_sweep(spec, store, executor, *, batch=20, progress=None):
    """Run every cell of ``spec`` not yet in the SQLite file ``store``; returns (done, total).

    ``executor`` is any ``concurrent.futures`` executor (local processes, or a dask
    ``Client.get_executor()``); ``progress(k)`` is called as k more cells are stored. A store
    is resumed only by the sweep that made it (the whole spec is recorded in it; any difference
    is a ValueError naming it, raised before anything runs).

    On any exception (a failed batch, a full disk) the queued batches are cancelled before it
    propagates; on KeyboardInterrupt every batch that had already finished is stored first,
    so a rerun resumes from there. The store itself is never left half-written.
    """
    batch = as_count(batch, "batch")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {progress!r}")
    cells = expand_cells(spec)
    db = _open_store(store)
    try:
        _check_meta(db, spec, store)
        done = {r[0] for r in db.execute("SELECT id FROM cells")}
        todo = [c for c in cells if c["id"] not in done]
        if progress is not None and len(done):
            progress(len(cells) - len(todo))
        queue = {
            executor.submit(_run_batch, todo[i : i + batch], spec)
            for i in range(0, len(todo), batch)
        }
        try:
            while queue:
                finished, _ = wait(queue, return_when=FIRST_COMPLETED)
                for fut in finished:
                    rows = fut.result()
                    _insert(db, rows)
                    queue.discard(fut)
                    if progress is not None:
                        progress(len(rows))
        except BaseException as exc:
            for fut in queue:
                fut.cancel()
            if isinstance(exc, KeyboardInterrupt):  # keep what finished before the Ctrl-C
                for fut in queue:
                    if fut.done() and not fut.cancelled() and fut.exception() is None:
                        _insert(db, fut.result())
            raise
        stored = count_stored(db)
    finally:
        db.close()
    return stored, len(cells)


def count_stored(store):
    """The number of cells in a store (a path, or an open sqlite3 connection)."""
    if isinstance(store, sqlite3.Connection):
        return store.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    db = sqlite3.connect(store)
    try:
        return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    finally:
        db.close()


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
