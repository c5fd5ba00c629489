"""Summaries of the experiments' unit records: per-prompt coupling means, block efficiency."""

import numpy as np
from scipy import stats

from paper_repro.experiments import ReproConfig

__all__ = ["mean_interval", "summarise_coupling", "summarise_sd"]


def mean_interval(values):
    """Mean and a 95% Student-t interval (the mean twice when there is one value)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if x.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return m, m - half, m + half


def _max_z(rows, trials):
    """Largest |MC - exact| / SE over the rows, the SE sqrt(p(1 - p)/trials) taken at the
    exact p (the estimate's own SE is 0 when no trial collides, at p ~ 1e-5 say)."""
    z = 0.0
    for r in rows:
        for proto in ("gumbel", "wmh"):
            p = r[f"{proto}_exact"]
            se = np.sqrt(max(p * (1 - p), 1e-300) / trials)
            z = max(z, abs(r[f"{proto}_mc"] - p) / se)
    return float(z)


def summarise_coupling(records):
    """Per prompt variant and drafter: mean D_TV and mean exact/MC Pr[a=b] over positions."""
    out = []
    for rec in records:
        trials = rec.get("mc_trials", ReproConfig.mc_trials)  # units before it was recorded
        for name in dict.fromkeys(r["drafter"] for r in rec["rows"]):
            rows = [r for r in rec["rows"] if r["drafter"] == name]
            tv = np.array([r["tv"] for r in rows])
            g = np.array([r["gumbel_exact"] for r in rows])
            w = np.array([r["wmh_exact"] for r in rows])
            out.append({"prompt": rec["prompt"], "template": "chat" if rec["chat"] else "raw",
                        "drafter": name, "positions": len(rows), "mean_tv": tv.mean(),
                        "mean_1_minus_d": (1 - tv).mean(),
                        "mean_bound": ((1 - tv) / (1 + tv)).mean(),
                        "gumbel_exact": g.mean(), "wmh_exact": w.mean(),
                        "gumbel_mc": np.mean([r["gumbel_mc"] for r in rows]),
                        "wmh_mc": np.mean([r["wmh_mc"] for r in rows]),
                        "gumbel_ge_wmh": int(np.sum(g >= w - 1e-12)),
                        "max_mc_z": _max_z(rows, trials)})  # fmt: skip
    return out


def summarise_sd(records):
    """Per (method, drafter, gamma): acceptance, block efficiency, tokens/s, speedup (95% CI
    over prompts and seeds), and DISD's block efficiency relative to SD's."""
    base = {(r["prompt"], r["seed"]): r["tokens"] / r["seconds"]
            for r in records if r["method"] == "autoregressive"}  # fmt: skip
    groups = {}
    for r in records:
        if r["method"] != "autoregressive":
            groups.setdefault((r["method"], r["drafter"], r["gamma"]), []).append(r)
    out = []
    for (method, drafter, gamma), runs in sorted(groups.items(), key=lambda kv: (kv[0][1],
                                                  kv[0][2], kv[0][0])):  # fmt: skip
        be = mean_interval([r["block_efficiency"] for r in runs])
        tps = [r["tokens"] / r["seconds"] for r in runs]
        speed = mean_interval([t / base[(r["prompt"], r["seed"])] for t, r in zip(tps, runs)])
        acc = sum(r["accepted"] for r in runs) / max(1, sum(r["drafted"] for r in runs))
        out.append({"method": method, "drafter": drafter, "gamma": gamma, "runs": len(runs),
                    "acceptance": acc, "be_mean": be[0], "be_low": be[1], "be_high": be[2],
                    "tokens_per_s": float(np.mean(tps)), "speedup": speed[0],
                    "speedup_low": speed[1], "speedup_high": speed[2]})  # fmt: skip
    sd_be = {(r["drafter"], r["gamma"]): r["be_mean"] for r in out if r["method"] == "sd"}
    for r in out:
        r["be_vs_sd"] = r["be_mean"] / sd_be.get((r["drafter"], r["gamma"]), np.nan)
    return out
