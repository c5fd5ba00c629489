"""``coupling reproduce``: every experiment, figure and table, then ``results/REPORT.md``.

The parts run in one process, in order: the language-model experiments (the main job), the
theorem certificates (as ``coupling prove``), a small sweep for the bounds figure. Each part
stores its results as units (experiment units, one certificate per claim, sweep cells in
SQLite), so a rerun after an interruption skips whatever is done; the report is rebuilt from
everything stored.
"""

import contextlib
import time
from concurrent.futures import Future
from pathlib import Path

from coupling.outputs.lock import check_writable
from coupling.paper_repro.units import UnitStore
from coupling.proofs import CLAIMS, Certificate, run_claims
from coupling.reports.proofs import write_certificates, write_claim_figures
from coupling.reports.report import ReportData, write_report
from coupling.reports.repro import run_repro
from coupling.reports.sweep import write_sweep_outputs
from coupling.simulate.sweep import SweepSpec, expand_cells, read_results, run_sweep

__all__ = ["BOUNDS_SWEEP", "PARTS", "PART_DIRS", "part_sizes", "reproduce", "run_proofs",
           "run_small_sweep"]  # fmt: skip

PARTS = ("coupling", "sd", "invariance", "proofs", "sweep")
#: Where the parts store under the root: the language-model experiments, certificates, sweep.
PART_DIRS = ("repro", "proofs", "sweep")
#: The sweep behind the bounds figures: four families across the range of D.
BOUNDS_SWEEP = SweepSpec(
    blocks=(
        {"family": "dirichlet", "n": 1000, "params": {"alpha": [0.1, 1.0]}, "replicates": 12},
        {"family": "zipf", "n": 1000, "params": {"noise": [0.2, 1.0, 3.0]}, "replicates": 8},
        {"family": "kset", "n": 60, "params": {"k": 20, "overlap": list(range(0, 21, 2))}},
        {
            "family": "llm-softmax",
            "n": 1000,
            "params": {"perturbation": [0.3, 1.0, 3.0]},
            "replicates": 8,
        },
    ),
    trials=100_000,
)


def part_sizes(cfg, *, claims=None, sweep_spec=BOUNDS_SWEEP):
    """Progress totals of the parts: units, claims, cells."""
    from coupling.paper_repro.experiments import unit_count

    sizes = {name: unit_count(name, cfg) for name in PARTS[:3]}
    return sizes | {"proofs": len(claims or CLAIMS), "sweep": len(expand_cells(sweep_spec))}


def run_proofs(out_dir, *, claims=None, progress=None):
    """The claims of ``coupling prove`` (all by default; default instances), one stored
    certificate per claim; returns (certificates, written paths)."""
    claims = list(claims or CLAIMS)
    for name in claims:
        if name not in CLAIMS:
            raise ValueError(f"unknown claim {name!r}; choose from {', '.join(CLAIMS)}")
    store = UnitStore(out_dir, {"claims": claims, "full": False})
    certs = []
    for name in claims:
        record = store.get(name, lambda name=name: run_claims([name])[0].as_dict())
        certs.append(Certificate(**record))
        if progress:
            progress(1)
    return certs, write_certificates(certs, out_dir) + write_claim_figures(certs, out_dir)


class _InlineExecutor:
    """A ``concurrent.futures`` executor that runs each task at submission, in this process."""

    def submit(self, fn, *args, **kwargs):
        fut = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def run_small_sweep(out_dir, *, spec=BOUNDS_SWEEP, progress=None):
    """The bounds sweep in this process (resuming from its store); returns (rows, paths)."""
    import numba

    store = Path(out_dir) / "sweep.sqlite"
    threads = numba.get_num_threads()
    try:
        run_sweep(spec, store, _InlineExecutor(), batch=10, progress=progress)
    finally:
        numba.set_num_threads(threads)  # the sweep's workers pin one thread each
    return read_results(store, spec), write_sweep_outputs(store, spec, out_dir)


def reproduce(load_target, cfg, root, *, parts=PARTS, claims=None, sweep_spec=BOUNDS_SWEEP,
              progress=None, command=""):  # fmt: skip
    """Run ``parts`` under ``root`` (resuming), write their tables and figures and REPORT.md.

    ``load_target()`` returns the target (a LoadedModel), called when a language-model part
    is among ``parts``; ``claims`` and ``sweep_spec`` choose the certificates and the bounds
    sweep. ``progress(part, total)`` returns a context manager yielding an ``update(k)``
    callback (or None). Returns (ReportData, written paths).

    ``root`` is checked before any work (:func:`~coupling.outputs.lock.check_writable`) and
    created by the first write. No lock is taken here: ``coupling reproduce`` holds ``root``
    and its :data:`PART_DIRS` against other runs for its lifetime.
    """
    for part in parts:
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
    check_writable(root)
    root = Path(root)
    sizes = part_sizes(cfg, claims=claims, sweep_spec=sweep_spec)

    def bar(part):
        return progress(part, sizes[part]) if progress else contextlib.nullcontext()

    lm_dir, proofs_dir, sweep_dir = (root / name for name in PART_DIRS)
    data = ReportData(root=root, lm_dir=lm_dir, cfg=cfg, proofs_dir=proofs_dir,
                      sweep_dir=sweep_dir, command=command)  # fmt: skip
    start = time.perf_counter()
    written = []
    lm_parts = [p for p in parts if p in PARTS[:3]]
    if lm_parts:
        loaded = load_target()
        data.lm, paths = run_repro(loaded, cfg, data.lm_dir, lm_parts, progress=bar)
        written += paths
        data.timings["language model"] = time.perf_counter() - start
    if "proofs" in parts:
        t = time.perf_counter()
        with bar("proofs") as update:
            data.certificates, paths = run_proofs(data.proofs_dir, claims=claims,
                                                  progress=update)  # fmt: skip
        written += paths
        data.timings["proofs"] = time.perf_counter() - t
    if "sweep" in parts:
        t = time.perf_counter()
        with bar("sweep") as update:
            data.sweep_rows, paths = run_small_sweep(data.sweep_dir, spec=sweep_spec,
                                                     progress=update)  # fmt: skip
        written += paths
        data.timings["sweep"] = time.perf_counter() - t
    data.timings["total"] = time.perf_counter() - start
    written.append(write_report(data))
    return data, written
