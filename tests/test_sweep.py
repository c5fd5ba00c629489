"""Sweeps: deterministic cells, resumable stores, the same results on any executor."""

import contextlib
import multiprocessing
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

import numba
import pytest
from coupling.reports.sweep import write_sweep_outputs
from coupling.simulate.sweep import (
    StoreMismatch,
    SweepSpec,
    cell_seed,
    count_stored,
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
    # CI installs the cluster extra: there a missing dask is a failure, not a skip
    if os.environ.get("CI"):
        import dask.distributed as distributed
    else:
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
    with ThreadPoolExecutor(1) as ex:
        run_sweep(SPEC, store, ex)
    full = _rows(store)
    with sqlite3.connect(store) as db:  # as if the first run had stopped part way
        db.execute("DELETE FROM cells WHERE rowid % 3 = 0")
    kept = count_stored(store)
    seen = []
    with ThreadPoolExecutor(1) as ex:
        done, total = run_sweep(SPEC, store, ex, progress=seen.append)
    assert done == total == len(expand_cells(SPEC))
    assert seen[0] == kept  # reported as already done, not recomputed
    assert sum(seen) == total
    assert _rows(store) == full


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


def test_resume_with_another_spec_names_what_differs(tmp_path):
    store = tmp_path / "s.sqlite"
    small = SweepSpec(blocks=({"family": "zipf", "n": 30},), seed=5, trials=1000)
    with ThreadPoolExecutor(1) as ex:
        run_sweep(small, store, ex)
        for other, what in [
            ({"family": "zipf", "n": 40}, "block 1 n: stored [30], given [40]"),
            ({"family": "dirichlet", "n": 30}, "block 1 family: stored ['zipf']"),
            ({"family": "zipf", "n": 30, "replicates": 2}, "block 1 replicates: stored 1"),
        ]:
            spec = SweepSpec(blocks=(other,), seed=5, trials=1000)
            with pytest.raises(StoreMismatch, match=re.escape(what)):
                run_sweep(spec, store, ex)
    assert count_stored(store) == 1


class _Inline:
    """An executor that runs each task when it is submitted, on the calling thread."""

    def submit(self, fn, *args):
        fut = Future()
        fut.set_result(fn(*args))
        return fut


def test_batches_leave_the_thread_count_alone(tmp_path, restore_threads):
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    spec = SweepSpec(blocks=({"family": "zipf", "n": 30},), trials=1000)
    run_sweep(spec, tmp_path / "s.sqlite", _Inline())
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_interrupt_keeps_finished_batches_and_cancels_the_queue(tmp_path, monkeypatch):
    """Ctrl-C at the third stored batch: the batches finished by then are kept, the queued
    ones cancelled. The fifth batch waits until the interrupt is handled, so however slowly
    the main thread runs, the worker cannot finish the whole queue first."""
    import threading

    from coupling.simulate import sweep as sweep_module

    spec = SweepSpec(blocks=({"family": "zipf", "n": 30, "replicates": 30},), trials=1000)
    store = tmp_path / "s.sqlite"
    seen, started, gate = [], [], threading.Event()
    run_batch = sweep_module._run_batch

    def gated(cells, spec):
        started.append(1)
        if len(started) > 4:
            gate.wait(60)
        return run_batch(cells, spec)

    def progress(k):
        seen.append(k)
        if len(seen) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "_run_batch", gated)
    with ThreadPoolExecutor(1) as ex:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(spec, store, ex, batch=2, progress=progress)
        gate.set()
    monkeypatch.undo()
    stored = count_stored(store)
    assert len(started) <= 5  # the queue was cancelled: no batch started after the fifth
    assert 6 <= stored < 30  # three batches reported, any finished since then kept too
    rows = read_results(store, spec)
    assert rows == [run_cell(c, spec) for c in expand_cells(spec) if c["id"] in
                    {r["id"] for r in rows}]  # fmt: skip
    with ThreadPoolExecutor(1) as ex:
        assert run_sweep(spec, store, ex) == (30, 30)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"blocks": ({"family": "zipf", "n": 10.7},)}, TypeError, "block 1: n must be an int"),
        ({"blocks": ({"family": "zipf", "n": 10, "replicates": 2.9},)}, TypeError, "replicates"),
        ({"blocks": ({"family": "zipf", "n": 10, "replicates": "3"},)}, TypeError, "replicates"),
        ({"blocks": ({"family": "zipf", "n": 10, "replicates": -5},)}, ValueError, ">= 1"),
        ({"blocks": ({"n": 10},)}, ValueError, "block 1: no 'family'"),
        ({"blocks": ({"family": "zipf"},)}, ValueError, "block 1: no 'n'"),
        ({"blocks": ({"family": [], "n": 10},)}, ValueError, "family is an empty list"),
        ({"blocks": 3}, TypeError, "blocks must be a list of tables"),
        ({"blocks": ({"family": "zipf", "n": 10, "params": 3},)}, TypeError, "params"),
        ({"blocks": ({"family": "zipf", "n": 10, "params": {"noise": -1}},)}, ValueError,
         "noise must be >= 0.0"),
        ({"blocks": ({"family": "zipf", "n": 10},), "seed": -1}, ValueError, "seed"),
        ({"blocks": ({"family": "zipf", "n": 10},), "seed": 1.0}, TypeError, "seed"),
        ({"blocks": ({"family": "zipf", "n": 10},), "trials": 2**63 + 1}, ValueError, "trials"),
        ({"blocks": ({"family": "zipf", "n": 10},), "protocols": (), "mc_protocols": ()},
         ValueError, "computes nothing"),
        ({"blocks": ({"family": "zipf", "n": 10},), "engines": ()}, ValueError, "engines"),
    ],
)  # fmt: skip
def test_spec_types_are_exact(kwargs, error, match):
    with pytest.raises(error, match=match):
        SweepSpec(**kwargs)


def test_a_single_name_is_a_list_of_one():
    spec = SweepSpec(blocks=({"family": "kset", "n": 40, "params": {"k": 8, "overlap": 0}},),
                     engines="faithful", mc_protocols="gumbel")  # fmt: skip
    assert spec.engines == ("faithful",) and spec.mc_protocols == ("gumbel",)
    assert spec.blocks[0] == {"family": ["kset"], "n": [40], "params": {"k": [8], "overlap": [0]},
                              "replicates": 1}  # fmt: skip


def test_stale_figures_are_removed(tmp_path):
    spec = SweepSpec(blocks=({"family": "zipf", "n": 30},), trials=1000)
    with ThreadPoolExecutor(1) as ex:
        run_sweep(spec, tmp_path / "sweep.sqlite", ex)
    for ext in ("png", "pdf", "json"):
        (tmp_path / f"summary_dirichlet.{ext}").write_text("from another sweep")
    (tmp_path / "summary_notes.txt").write_text("the user's")
    paths = write_sweep_outputs(tmp_path / "sweep.sqlite", spec, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"summary_zipf.png", "summary_zipf.pdf", "summary_notes.txt"} <= names
    assert not any(n.startswith("summary_dirichlet") for n in names)
    assert all(p.exists() for p in paths)


def test_ctrl_c_race_on_a_cancelled_future_prints_no_traceback(monkeypatch):
    """After Ctrl-C the process pool's manager thread may mark a future that the sweep had
    cancelled as broken: CPython raises InvalidStateError in that thread. The command silences
    exactly that error (a cancelled batch was never stored) and passes any other on."""
    import threading
    from concurrent.futures import Future

    from coupling.cli_sweep import _quiet_cancelled_futures

    seen = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_type))
    _quiet_cancelled_futures()
    cancelled = Future()
    cancelled.cancel()
    worker = threading.Thread(target=cancelled.set_exception, args=(RuntimeError("broken"),))
    worker.start()
    worker.join()
    assert seen == []
    failing = threading.Thread(target=lambda: 1 / 0)
    failing.start()
    failing.join()
    assert seen == [ZeroDivisionError]
