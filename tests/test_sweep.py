"""Sweeps: deterministic cells, resumable stores, the same results on any executor."""

import contextlib
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from simulate.sweep import (
    SweepSpec,
    cell_seed,
    expand_cells,
    load_spec,
    read_results,
    run_cell,
    run_sweep,
)

SPEC = SweepSpec(
    blocks=(
        {
            "family": ["dirichlet", "zipf"],
            "n": [50, 120],
            "params": {"alpha": [0.2, 1.0]},
            "replicates": 3,
        },
        {"family": "kset", "n": 40, "params": {"k": 8, "overlap": [0, 4, 8]}},
    ),
    seed=5,
    trials=5_000,
    engines=("fast", "faithful"),
)


def _rows(store):
    return read_results(store, SPEC)


def test_cells_are_stable_and_unique():
    cells = expand_cells(SPEC)
    # dirichlet: 2 n x 2 alpha x 3 reps; zipf ignores alpha: 2 n x 3 reps; kset: 3
    assert len(cells) == 12 + 6 + 3
    assert len({c["id"] for c in cells}) == len(cells)
    assert expand_cells(SPEC) == cells
    a, b = cells[0], cells[1]
    assert cell_seed(5, a, "mc") != cell_seed(5, b, "mc") != cell_seed(6, b, "mc")
    assert cell_seed(5, a, "mc") != cell_seed(5, a, "pair")


def test_same_rows_on_threads_and_processes(tmp_path):
    with ThreadPoolExecutor(1) as ex:
        run_sweep(SPEC, tmp_path / "a.sqlite", ex, batch=4)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        run_sweep(SPEC, tmp_path / "b.sqlite", ex, batch=3)
    a, b = _rows(tmp_path / "a.sqlite"), _rows(tmp_path / "b.sqlite")
    assert len(a) == len(expand_cells(SPEC))
    assert a == b
    assert a[0] == run_cell(expand_cells(SPEC)[0], SPEC)


@pytest.mark.slow
def test_dask_local_cluster_matches_local_run(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with ThreadPoolExecutor(1) as ex:
        run_sweep(SPEC, tmp_path / "local.sqlite", ex)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            run_sweep(SPEC, tmp_path / "dask.sqlite", client.get_executor(), batch=2)
    assert _rows(tmp_path / "dask.sqlite") == _rows(tmp_path / "local.sqlite")


def test_resume_skips_finished_cells(tmp_path):
    store = tmp_path / "s.sqlite"
    partial = SweepSpec(blocks=SPEC.blocks[:1], seed=5, trials=5_000, engines=("fast", "faithful"))
    with ThreadPoolExecutor(1) as ex:
        run_sweep(partial, store, ex)
    seen = []
    with ThreadPoolExecutor(1) as ex:
        done, total = run_sweep(SPEC, store, ex, progress=seen.append)
    assert done == total == len(expand_cells(SPEC))
    assert seen[0] == len(expand_cells(partial))  # reported as already done, not recomputed
    assert sum(seen) == total


@pytest.mark.slow
def test_kill_9_then_resume(tmp_path):
    """A sweep killed with SIGKILL resumes without losing or duplicating rows."""
    reps, out = 150, tmp_path / "run"
    spec = SweepSpec(
        blocks=({"family": ["dirichlet"], "n": [2000], "params": {}, "replicates": reps},),
        seed=3,
        trials=20_000,
        engines=("faithful",),
        mc_protocols=("gumbel",),
    )
    first = run_cell(expand_cells(spec)[0], spec)  # also fills numba's on-disk cache for workers
    cmd = [sys.executable, "-m", "coupling", "sweep", "--family", "dirichlet", "--n", "2000",
           "--replicates", str(reps), "--trials", "20000", "--engines", "faithful",
           "--mc-protocols", "gumbel", "--batch", "2", "--workers", "2", "--seed", "3",
           "--out", str(out), "--json"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    store = out / "sweep.sqlite"
    deadline = time.time() + 300
    stored = 0
    while time.time() < deadline and stored < 6 and proc.poll() is None:
        time.sleep(0.2)
        if store.exists():
            with contextlib.suppress(sqlite3.OperationalError), sqlite3.connect(store) as db:
                stored = db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 6 <= stored < reps, f"the sweep should have been killed part way ({stored} stored)"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(store) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM cells")]
    assert len(ids) == len(set(ids)) == reps
    rows = read_results(store, spec)
    assert rows[0] == first
    assert rows[-1] == run_cell(expand_cells(spec)[-1], spec)


def test_settings_mismatch_is_refused(tmp_path):
    store = tmp_path / "s.sqlite"
    small = SweepSpec(blocks=SPEC.blocks[1:], seed=5, trials=1000)
    with ThreadPoolExecutor(1) as ex:
        run_sweep(small, store, ex)
        with pytest.raises(ValueError, match="other settings"):
            run_sweep(SweepSpec(blocks=SPEC.blocks[1:], seed=6, trials=1000), store, ex)


def test_toml_spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        'seed = 2\ntrials = 1000\nmc_protocols = ["gumbel"]\n'
        '[[block]]\nfamily = "mixture"\nn = [30, 60]\nreplicates = 2\n'
        "[block.params]\nlam = [0.1, 0.5]\n"
    )
    spec = load_spec(path)
    assert spec.seed == 2 and spec.mc_protocols == ("gumbel",)
    assert len(expand_cells(spec)) == 8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"blocks": ({"family": "nope", "n": 5},)}, "unknown family"),
        (
            {"blocks": ({"family": "zipf", "n": 5, "params": {"alpha": [1]}},)},
            "takes the parameters",
        ),
        ({"blocks": ({"family": "zipf", "n": 5, "bogus": 1},)}, "unknown block keys"),
        ({"blocks": ({"family": "zipf", "n": 5},), "engines": ("gpu",)}, "unknown engine"),
        ({"blocks": ()}, "at least one block"),
    ],
)
def test_bad_specs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        expand_cells(SweepSpec(**kwargs))
