"""``coupling sweep``: a grid of pairs on local processes or a dask cluster, resumable, and
stopped cleanly by Ctrl-C (queued batches cancelled, finished ones kept)."""

import os
import sys
import time

from coupling._args import family_params, holds_out, int_list, split
from coupling._output import CommandError, print_json, progress_bar, user_input

__all__ = ["cmd_sweep"]


def _sweep_spec(args):
    from coupling.simulate.sweep import SweepSpec, load_spec

    if args.spec:
        with user_input():
            return load_spec(args.spec)
    params = {}
    for item in args.param or ():
        key, sep, values = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param expects KEY=V1,V2,..., got {item!r}")
        params[key] = [family_params([f"{key}={v}"])[key] for v in values.split(",")]
    block = {
        "family": list(split(args.family)),
        "n": int_list(args.n, "--n"),
        "params": params,
        "replicates": args.replicates,
    }
    with user_input():
        return SweepSpec(
            blocks=(block,),
            seed=args.seed,
            trials=args.trials,
            mc_protocols=split(args.mc_protocols),
            engines=split(args.engines),
        )


def _ignore_sigint():
    """Worker initializer: Ctrl-C is the parent's to handle (it cancels the queue and keeps
    what finished); a worker that saw it too would die mid-batch with a traceback of its own."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _quiet_cancelled_futures():
    """On Ctrl-C the queued futures are cancelled and the workers terminated; CPython's
    process-pool manager thread then marks every future it still lists as broken, and on one
    cancelled meanwhile that raises InvalidStateError, which its thread prints as a traceback.
    Nothing is lost (a cancelled batch was never stored): only that error is silenced."""
    import threading
    from concurrent.futures import InvalidStateError

    previous = threading.excepthook

    def hook(args):
        if not issubclass(args.exc_type, InvalidStateError):
            previous(args)

    threading.excepthook = hook


def _executor(args):
    """(executor, close): local worker processes, or a dask.distributed cluster's executor."""
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise CommandError(
                "--scheduler needs dask.distributed: pip install -e '.[cluster]'"
            ) from None
        try:
            client = Client(args.scheduler, timeout=10)
        except (OSError, TimeoutError, ValueError) as exc:
            raise CommandError(f"cannot reach the scheduler {args.scheduler}: {exc}") from None
        executor = client.get_executor()

        def close(*, interrupted=False):
            executor.shutdown(wait=not interrupted)
            client.close()

        return executor, close
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # numba's thread pools do not survive fork
    before = set(multiprocessing.active_children())
    executor = ProcessPoolExecutor(max_workers=args.workers or None, mp_context=ctx,
                                   initializer=_ignore_sigint)  # fmt: skip

    def close(*, interrupted=False):
        if not interrupted:
            executor.shutdown()
            return
        _quiet_cancelled_futures()
        executor.shutdown(wait=False, cancel_futures=True)
        for worker in set(multiprocessing.active_children()) - before:
            worker.terminate()  # its running batch is lost; every finished one is stored

    return executor, close


@holds_out
def cmd_sweep(args, out_dir):
    """``coupling sweep``: run (or resume) the spec's cells and write the summaries."""
    import sqlite3

    from coupling.reports.sweep import write_sweep_outputs
    from coupling.simulate.montecarlo import run_memory
    from coupling.simulate.sweep import StoreMismatch, count_stored, expand_cells, run_sweep
    from coupling.simulate.validation import as_count, check_memory

    spec = _sweep_spec(args)
    with user_input():
        batch = as_count(args.batch, "--batch")
        workers = as_count(args.workers, "--workers", minimum=0)
        cells = expand_cells(spec)
        if not args.scheduler:  # a cluster's workers have memory of their own
            largest = max(c["n"] for c in cells)
            running = min(workers or os.cpu_count() or 1, len(cells))
            check_memory(running * run_memory(largest),
                         f"{running} cells of n = {largest:,} at once")  # fmt: skip
    total = len(cells)
    executor, close = _executor(args)
    try:
        out = out_dir.start()  # the work starts: create and lock --out
    except BaseException:
        close(interrupted=True)
        raise
    store = out / "sweep.sqlite"
    t0 = time.perf_counter()
    try:
        with progress_bar(total, "cells", enabled=not args.json, unit="cells") as update:
            done, total = run_sweep(spec, store, executor, batch=batch, progress=update)
    except KeyboardInterrupt:
        close(interrupted=True)
        print(f"coupling sweep: interrupted; {count_stored(store)}/{total} cells are stored in "
              f"{store}; rerun the same command to resume", file=sys.stderr)  # fmt: skip
        return 130
    except StoreMismatch as exc:
        close(interrupted=True)
        raise CommandError(str(exc)) from None
    except sqlite3.DatabaseError as exc:  # a full disk, a file that is not a store
        close(interrupted=True)
        raise CommandError(f"cannot write the store {store}: {exc}; the cells stored before "
                           "are intact and a rerun resumes from them") from None  # fmt: skip
    close()
    seconds = time.perf_counter() - t0
    paths = write_sweep_outputs(store, spec, out)
    summary = {
        "cells": total,
        "stored": done,
        "seconds": seconds,
        "outputs": [str(p) for p in paths],
    }
    if args.json:
        print_json(summary)
    else:
        print(f"{done}/{total} cells stored in {store} ({seconds:.1f} s)")
        for p in paths:
            print(f"  wrote {p}")
    return 0
