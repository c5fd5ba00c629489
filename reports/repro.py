"""The language-model experiments on disk: per-prompt coupling tables and figures, the
block-efficiency table and figure, the invariance texts and flip counts."""

import contextlib
from pathlib import Path

from figures.llm import block_efficiency_figure, prompt_coupling_figure
from outputs import save_figure, slug, write_table
from paper_repro.experiments import run_coupling, run_invariance, run_sd
from paper_repro.summary import summarise_coupling, summarise_sd

__all__ = ["run_repro", "write_reports"]


def write_reports(out, coupling=None, sd=None, invariance=None):
    """Tables and figures of whichever experiments are given; returns the written paths."""
    out = Path(out)
    written = []
    if coupling:
        summary = summarise_coupling(coupling)
        write_table(summary, out / "coupling" / "per_prompt_means", "Per-prompt means")
        written.append(out / "coupling" / "per_prompt_means.md")
        for rec in coupling:
            tag = "chat" if rec["chat"] else "raw"
            fig = prompt_coupling_figure(rec["rows"], f"{rec['prompt']} ({tag} prompt)")
            written += save_figure(fig, out / "coupling" / f"{slug(rec['prompt'])}-{tag}",
                                   {"prompt": rec["prompt"], "chat": rec["chat"]})  # fmt: skip
    if sd:
        summary = summarise_sd(sd)
        write_table(summary, out / "sd" / "block_efficiency", "Speculative decoding")
        fig = block_efficiency_figure(summary)
        written += save_figure(fig, out / "sd" / "block_efficiency")
        written.append(out / "sd" / "block_efficiency.md")
    if invariance:
        demo, flips = invariance
        rows = [{"method": r["method"], "drafter": r["drafter"] or "-",
                 "text": r["text"].replace("\n", " ").replace("|", "/")}
                for r in demo["runs"]]  # fmt: skip
        write_table(rows, out / "invariance" / "texts", f"Seed {demo['seed']}, gamma 4")
        write_table(flips, out / "invariance" / "flips", "Verify-pass vs one-token flips")
        written += [out / "invariance" / "texts.md", out / "invariance" / "flips.md"]
    return written


def run_repro(loaded, cfg, out, names, *, progress=None):
    """Run the named experiments under ``out`` (resuming from their stored units) and write
    their reports; returns (results by experiment, written paths).

    ``progress(name)`` (optional) returns a context manager yielding an ``update(k)``
    callback or None, e.g. a progress bar per experiment.
    """
    funcs = {"coupling": run_coupling, "sd": run_sd, "invariance": run_invariance}
    for name in names:
        if name not in funcs:
            raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(funcs)}")
    out = Path(out)
    results = {}
    for name in names:
        with progress(name) if progress else contextlib.nullcontext() as update:
            results[name] = funcs[name](loaded, cfg, out / name, progress=update)
    return results, write_reports(out, **results)
