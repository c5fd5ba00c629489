"""The language-model experiments on disk: the per-position table, per-prompt coupling figures,
the pooled gap figure and its split over the items, the list coupling's table and figure, the
block-efficiency table and figure with the real-run checks, the multi-draft table and figure,
the invariance texts and flip counts."""

import contextlib
from pathlib import Path

from coupling.figures.llm import (
    block_efficiency_figure,
    gap_figure,
    list_matching_figure,
    multidraft_figure,
    prompt_coupling_figure,
)
from coupling.figures.pareto import pareto_gap_figure
from coupling.outputs import atomic_write_text, csv_text, save_figure, slug, write_json, write_table
from coupling.paper_repro.experiments import run_coupling, run_invariance
from coupling.paper_repro.speculative import run_sd
from coupling.paper_repro.summary import (
    band_shares,
    gap_items_table,
    gap_split_data,
    list_matching_means,
    list_matching_table,
    position_table,
    real_run_checks,
    summarise_be,
    summarise_coupling,
    summarise_multidraft,
)
from coupling.paper_repro.units import UnitStore

__all__ = ["EXPERIMENT_FUNCS", "check_settings", "run_repro", "write_reports"]

EXPERIMENT_FUNCS = {"coupling": run_coupling, "sd": run_sd, "invariance": run_invariance}


def _write_coupling(records, out):
    out = Path(out) / "coupling"
    rows = position_table(records)
    written = [
        atomic_write_text(out / "positions.csv", csv_text(rows)),
        atomic_write_text(out / "gap_items.csv", csv_text(gap_items_table(records))),
    ]
    written.append(write_json(out / "bands.json", band_shares(records)))
    write_table(summarise_coupling(records), out / "per_prompt_means", "Per-prompt means")
    written.append(out / "per_prompt_means.md")
    for prompt in dict.fromkeys(rec["prompt"] for rec in records):
        sel = [r for r in rows if r["prompt"] == prompt]
        written += save_figure(prompt_coupling_figure(sel, prompt), out / slug(prompt),
                               {"prompt": prompt})  # fmt: skip
    written += save_figure(gap_figure(rows), out / "gap")
    totals, tops, segments = gap_split_data(records)
    written += save_figure(pareto_gap_figure(totals, tops, segments=segments), out / "gap_split",
                           {"segments": segments})  # fmt: skip
    lists = list_matching_table(records)
    if lists:
        written.append(atomic_write_text(out / "list_matching.csv", csv_text(lists)))
        written += write_table(list_matching_means(lists), out / "list_matching_means",
                               "List coupling: mean Pr[token in the K-draft list]")  # fmt: skip
        written += save_figure(list_matching_figure(lists), out / "list_matching")
    return written


def _write_sd(result, out, gammas, md_gamma):
    out = Path(out) / "sd"
    summary = summarise_be(result, gammas)
    write_table(summary, out / "block_efficiency", "Block efficiency")
    written = [out / "block_efficiency.md", out / "block_efficiency.csv"]
    written += save_figure(block_efficiency_figure(summary), out / "block_efficiency")
    disd, sd = real_run_checks(result)
    write_table(disd, out / "disd_checks", "Real DISD runs against the replayed paths")
    write_table(sd, out / "sd_checks", "Real SD runs against the in-law estimate")
    written += [out / "disd_checks.md", out / "sd_checks.md"]
    if result.get("multidraft"):
        md = summarise_multidraft(result, md_gamma)
        write_table(md, out / "multidraft", "Multi-draft DISD: strong against conditional")
        written += [out / "multidraft.md", out / "multidraft.csv"]
        written += save_figure(multidraft_figure(md), out / "multidraft")
    return written


def _write_invariance(result, out):
    out = Path(out) / "invariance"
    demo, flips = result
    rows = [{"method": r["method"], "drafter": r["drafter"] or "-",
             "text": r["text"].replace("\n", " ").replace("|", "/")}
            for r in demo["runs"]]  # fmt: skip
    write_table(rows, out / "texts", f"Seed {demo['seed']}, gamma {demo['gamma']}")
    write_table(flips, out / "flips", "Verify-pass vs one-token flips")
    return [out / "texts.md", out / "flips.md"]


def write_reports(out, cfg, coupling=None, sd=None, invariance=None):
    """Tables and figures of whichever experiments are given; returns the written paths."""
    written = []
    if coupling:
        written += _write_coupling(coupling, out)
    if sd:
        written += _write_sd(sd, out, cfg.gammas, cfg.md_gamma)
    if invariance:
        written += _write_invariance(invariance, out)
    return written


def check_settings(cfg, out, names):
    """Refuse, before any model work, to resume experiments stored with other settings: each
    experiment's ``settings.json`` and every unit it stores are checked."""
    for name in names:
        UnitStore(Path(out) / name, cfg.settings(name))


def run_repro(loaded, cfg, out, names, *, progress=None):
    """Run the named experiments under ``out`` (resuming from their stored units) and write
    their reports; returns (results by experiment, written paths).

    ``progress(name)`` (optional) returns a context manager yielding an ``update(k)``
    callback or None, e.g. a progress bar per experiment.
    """
    for name in names:
        if name not in EXPERIMENT_FUNCS:
            raise ValueError(
                f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENT_FUNCS)}"
            )
    out = Path(out)
    results = {}
    for name in names:
        with progress(name) if progress else contextlib.nullcontext() as update:
            results[name] = EXPERIMENT_FUNCS[name](loaded, cfg, out / name, progress=update)
    return results, write_reports(out, cfg, **results)
