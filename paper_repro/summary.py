"""Summaries of the experiments' unit records: the per-position table, D_TV bands, per-prompt
means, block efficiency with intervals and speed-ups, and the checks against real runs."""

import numpy as np
from coupling.paper_repro.block_efficiency import expected_block_efficiency, replay, speedup
from coupling.simulate.montecarlo import z_score
from scipy import stats

__all__ = [
    "BANDS",
    "SEPARATION",
    "band_shares",
    "gap_items_table",
    "gap_split_data",
    "list_matching_means",
    "list_matching_table",
    "max_z",
    "mean_interval",
    "position_table",
    "real_run_checks",
    "stratified_interval",
    "summarise_be",
    "summarise_coupling",
    "summarise_multidraft",
]

#: D_TV bands of the coupling experiment's positions: [low, high).
BANDS = ((0.0, 0.3), (0.3, 0.7), (0.7, 1.0 + 1e-12))
#: Exact per-token acceptances closer than this need not be separated by the intervals.
SEPARATION = 0.02
#: Methods of experiment 2 and the in-law acceptance rate each one reads.
RATES = {"sd": "a_sd", "disd-gumbel": "a_gumbel", "disd-wmh": "a_wmh"}
#: Drafter-to-target cost ratio of the paper's pairing (2B drafter, 27B target).
PAPER_COST = 0.05
NEGATIVE_GAP = -1e-12  # an exact gap below this is a violation, not rounding


def mean_interval(values):
    """Mean and a 95% Student-t interval (the mean twice when there is one value)."""
    x = np.asarray(values, dtype=float)
    m = float(x.mean())
    if x.size < 2:
        return m, m, m
    half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return m, m - half, m + half


def stratified_interval(groups):
    """Mean over strata of the stratum means, with a 95% t interval from the within-stratum
    variances (the prompts are fixed; the seeds are the random sample).

    ``groups``: list of sequences, one per stratum, each with at least two values.
    """
    groups = [np.asarray(g, dtype=float) for g in groups]
    if any(g.size < 2 for g in groups):
        means = np.concatenate(groups)
        return mean_interval(means)
    k = len(groups)
    m = float(np.mean([g.mean() for g in groups]))
    var = sum(g.var(ddof=1) / g.size for g in groups) / k**2
    df = sum(g.size - 1 for g in groups)
    half = float(stats.t.ppf(0.975, df) * np.sqrt(var))
    return m, m - half, m + half


def position_table(records):
    """One row per (prompt, template, drafter, position) of experiment 1 (positions.csv)."""
    keys = ("token", "tv", "optimal", "bound", "lower_bound", "gumbel_exact", "wmh_exact",
            "gap", "gumbel_mc", "gumbel_se", "wmh_mc", "wmh_se")  # fmt: skip
    return [{"prompt": rec["prompt"], "template": rec["template"], "drafter": r["drafter"],
             "position": r["position"], **{k: r[k] for k in keys}}
            for rec in records for r in rec["rows"]]  # fmt: skip


def gap_items_table(records):
    """The split of each position's Gumbel-WMH gap over its top items, one row per item:
    prompt, template, drafter, position, rank, item, G_i - W_i, and the position's gap."""
    return [{"prompt": rec["prompt"], "template": rec["template"], "drafter": r["drafter"],
             "position": r["position"], "rank": k + 1, "item": item, "item_gap": g,
             "gap": r["gap"]}
            for rec in records for r in rec["rows"]
            for k, (item, g) in enumerate(zip(r["gap_items"], r["gap_values"]))]  # fmt: skip


def gap_split_data(records):
    """The gap split of every (position, drafter) pair of experiment 1, grouped by drafter:
    (totals (N,), top per-item gaps (N, top), segments [(drafter, count), ...]) in the form
    of :func:`coupling.figures.pareto.pareto_gap_figure`."""
    rows = [r for rec in records for r in rec["rows"]]
    drafters = list(dict.fromkeys(r["drafter"] for r in rows))
    ordered = [r for name in drafters for r in rows if r["drafter"] == name]
    segments = [(name, sum(r["drafter"] == name for r in rows)) for name in drafters]
    return (np.array([r["gap"] for r in ordered]),
            np.array([r["gap_values"] for r in ordered]), segments)  # fmt: skip


def list_matching_table(records):
    """One row per (prompt, template, drafter, position, K) where experiment 1 computed the
    list coupling: D_TV, the exact Pr[target's token in the K-draft list], the lemma."""
    return [{"prompt": rec["prompt"], "template": rec["template"], "drafter": r["drafter"],
             "position": r["position"], "tv": r["tv"], "drafts": k, "list_exact": e,
             "list_bound": b}
            for rec in records for r in rec["rows"] if "list_exact" in r
            for k, e, b in zip(r["drafts"], r["list_exact"], r["list_bound"])]  # fmt: skip


def list_matching_means(table):
    """Per drafter and over all of them ("all"): positions, mean D_TV, and per K the mean
    exact matching probability and the mean lemma, from :func:`list_matching_table` rows."""
    out = []
    for name in [*dict.fromkeys(r["drafter"] for r in table), "all"]:
        sel = [r for r in table if name in ("all", r["drafter"])]
        row = {"drafter": name, "positions": sum(r["drafts"] == sel[0]["drafts"] for r in sel),
               "mean_tv": float(np.mean([r["tv"] for r in sel]))}  # fmt: skip
        for k in dict.fromkeys(r["drafts"] for r in sel):
            row[f"exact_K{k}"] = float(np.mean([r["list_exact"] for r in sel if r["drafts"] == k]))
            row[f"lemma_K{k}"] = float(np.mean([r["list_bound"] for r in sel if r["drafts"] == k]))
        out.append(row)
    return out


def band_shares(records):
    """Share of experiment 1's positions in each D_TV band, overall and per drafter; mean D
    per drafter; the count of negative exact gaps."""
    rows = [r for rec in records for r in rec["rows"]]
    tv = np.array([r["tv"] for r in rows])
    out = {"positions": len(rows),
           "shares": [float(np.mean((tv >= lo) & (tv < hi))) for lo, hi in BANDS],
           "negative_gaps": int(sum(r["gap"] < NEGATIVE_GAP for r in rows)),
           "drafters": {}}  # fmt: skip
    for name in dict.fromkeys(r["drafter"] for r in rows):
        d = np.array([r["tv"] for r in rows if r["drafter"] == name])
        out["drafters"][name] = {"mean_tv": float(d.mean()), "positions": int(d.size),
                                 "shares": [float(np.mean((d >= lo) & (d < hi)))
                                            for lo, hi in BANDS]}  # fmt: skip
    return out


def max_z(rows, trials):
    """Largest |z| over the rows, each :func:`coupling.simulate.montecarlo.z_score` of the MC
    estimate against the exact value (its error taken at the exact p: the estimate's own is 0 when
    no trial collides, at p ~ 1e-5 say)."""
    return max(
        (abs(z_score(r[f"{proto}_mc"], r[f"{proto}_exact"], trials))
         for r in rows for proto in ("gumbel", "wmh")),
        default=0.0,
    )  # fmt: skip


def summarise_coupling(records):
    """Per prompt, template and drafter: mean D_TV and mean exact/MC Pr[a=b] over positions."""
    out = []
    for rec in records:
        for name in dict.fromkeys(r["drafter"] for r in rec["rows"]):
            rows = [r for r in rec["rows"] if r["drafter"] == name]
            tv = np.array([r["tv"] for r in rows])
            g = np.array([r["gumbel_exact"] for r in rows])
            w = np.array([r["wmh_exact"] for r in rows])
            out.append({"prompt": rec["prompt"], "template": rec["template"],
                        "drafter": name, "positions": len(rows), "mean_tv": tv.mean(),
                        "mean_1_minus_d": (1 - tv).mean(),
                        "mean_bound": ((1 - tv) / (1 + tv)).mean(),
                        "gumbel_exact": g.mean(), "wmh_exact": w.mean(),
                        "gumbel_mc": np.mean([r["gumbel_mc"] for r in rows]),
                        "wmh_mc": np.mean([r["wmh_mc"] for r in rows]),
                        "gumbel_ge_wmh": int(np.sum(g >= w + NEGATIVE_GAP)),
                        "max_mc_z": max_z(rows, rec["mc_trials"])})  # fmt: skip
    return out


def _by_prompt(paths):
    """{prompt: [(seed, {coupling: row})]} from experiment 2's path units."""
    out = {}
    for unit in paths:
        seeds = out.setdefault(unit["prompt"], {})
        for row in unit["rows"]:
            seeds.setdefault(row["seed"], {})[row["coupling"]] = row
    return {p: sorted(s.items()) for p, s in out.items()}


def _acceptances(paths, name):
    """Mean exact per-token acceptance of SD (1 - D), DISD-Gumbel (J_P) and DISD-WMH, all
    three over the same positions: those where J_P was computed (every ``JP_EVERY``-th)."""
    at = [(r["tv"][:: unit["jp_every"]], r["gumbel_exact"], r["wmh_exact"][:: unit["jp_every"]])
          for unit in paths for r in (row["drafters"][name] for row in unit["rows"])]  # fmt: skip
    return {"sd": float(1 - np.mean([v for tv, _, _ in at for v in tv])),
            "disd-gumbel": float(np.mean([v for _, g, _ in at for v in g])),
            "disd-wmh": float(np.mean([v for _, _, w in at for v in w]))}  # fmt: skip


def _disjoint(a, b):
    return a[2] < b[1] or b[2] < a[1]


def summarise_be(result, gammas):
    """Per (drafter, gamma): the exact per-token acceptance and block efficiency (mean and 95%
    interval over the prompts' seeds) of each method, and the speed-ups.

    ``be_<method>``: expected block efficiency given each path (in law; both paths of a seed
    averaged); ``replay_disd-gumbel`` / ``replay_disd-wmh``: the actual DISD runs on the
    paths of their own coupling. ``separated``: whether every pair of methods whose exact
    acceptances differ by more than :data:`SEPARATION` has disjoint in-law intervals.
    Speed-ups: BE / (1 + gamma c) at the measured cost ratio c and at ``PAPER_COST``.
    """
    by_prompt = _by_prompt(result["paths"])
    names = list(result["paths"][0]["rows"][0]["drafters"])
    out = []
    for name in names:
        acc = _acceptances(result["paths"], name)
        cost = result["costs"]["drafters"][name]["cost_ratio"]
        for gamma in gammas:
            row = {"drafter": name, "gamma": gamma, "cost_ratio": cost}
            row |= {f"acc_{m}": a for m, a in acc.items()}
            intervals = {}
            for method, key in RATES.items():
                groups = [[np.mean([expected_block_efficiency(rows[c]["drafters"][name][key],
                                                              gamma) for c in rows])
                           for _, rows in seeds] for seeds in by_prompt.values()]  # fmt: skip
                intervals[method] = stratified_interval(groups)
                row |= dict(zip((f"be_{method}", f"be_{method}_low", f"be_{method}_high"),
                                intervals[method]))  # fmt: skip
            for method, coupling in (("disd-gumbel", "gumbel"), ("disd-wmh", "wmh")):
                groups = [[replay([f == "1" for f in rows[coupling]["drafters"][name]["flag"]],
                                  gamma).block_efficiency for _, rows in seeds]
                          for seeds in by_prompt.values()]  # fmt: skip
                row |= dict(
                    zip(
                        (f"replay_{method}", f"replay_{method}_low", f"replay_{method}_high"),
                        stratified_interval(groups),
                    )
                )
            pairs = [(a, b) for a, b in (("sd", "disd-gumbel"), ("sd", "disd-wmh"),
                                         ("disd-gumbel", "disd-wmh"))
                     if abs(acc[a] - acc[b]) > SEPARATION]  # fmt: skip
            row["must_separate"] = " ".join(f"{a}/{b}" for a, b in pairs)
            row["not_separated"] = " ".join(
                f"{a}/{b}" for a, b in pairs if not _disjoint(intervals[a], intervals[b])
            )
            row["separated"] = not row["not_separated"]
            for method in RATES:
                be = row[f"be_{method}"]
                row[f"speedup_{method}"] = speedup(be, gamma, cost)
                row[f"speedup_{method}_c{PAPER_COST}"] = speedup(be, gamma, PAPER_COST)
            out.append(row)
    return out


def real_run_checks(result):
    """The real runs against the paths: DISD runs must equal the replay of their seed's flags
    (tokens, accept flags, block efficiency); SD's mean block efficiency is compared with the
    in-law estimate over the same prompts at the same length (z from both standard errors).
    Returns (DISD rows, SD rows)."""
    by_prompt = _by_prompt(result["paths"])
    checks, sd_checks = [], []
    sd = {}
    for run in result["runs"]:
        if run["method"] == "sd":
            sd.setdefault(run["drafter"], []).append(run)
            continue
        coupling = run["method"].split("-")[1]
        rows = dict(by_prompt[run["prompt"]])[run["seed"]]
        path = rows[coupling]
        n = run["tokens"]
        flags = [f == "1" for f in path["drafters"][run["drafter"]]["flag"][:n]]
        rep = replay(flags, run["gamma"])
        checks.append({"method": run["method"], "drafter": run["drafter"],
                       "seed": run["seed"], "gamma": run["gamma"],
                       "tokens_equal": run["token_ids"] == path["tokens"][:n],
                       "flags_equal": run["accept_flags"] == rep.accept_flags,
                       "real_be": run["block_efficiency"],
                       "replay_be": rep.block_efficiency})  # fmt: skip
    for name, runs in sd.items():
        n, gamma = runs[0]["tokens"], runs[0]["gamma"]
        real = [r["block_efficiency"] for r in runs]
        law = [np.mean([expected_block_efficiency(rows[c]["drafters"][name]["a_sd"][:n], gamma)
                        for c in rows]) for seeds in by_prompt.values()
               for _, rows in seeds]  # fmt: skip
        se = np.sqrt(np.var(real, ddof=1) / len(real) + np.var(law, ddof=1) / len(law))
        sd_checks.append(
            {
                "drafter": name,
                "runs": len(real),
                "gamma": gamma,
                "real_be": float(np.mean(real)),
                "in_law_be": float(np.mean(law)),
                "z": float((np.mean(real) - np.mean(law)) / se) if se > 0 else 0.0,
            }
        )
    return checks, sd_checks


def _baseline(by_prompt, name, seeds, tokens, gamma):
    """SD (in law) and DISD-Gumbel (replayed) on experiment 2's Gumbel paths of ``seeds``,
    cut to their first ``tokens`` tokens: the K = 1 runs beside the multi-draft ones."""
    out = {}
    for method, read in (
        ("sd", lambda r: expected_block_efficiency(r["a_sd"][:tokens], gamma)),
        ("disd-gumbel", lambda r: replay([f == "1" for f in r["flag"][:tokens]],
                                         gamma).block_efficiency),
    ):  # fmt: skip
        groups = [[read(rows["gumbel"]["drafters"][name]) for s, rows in runs if s in seeds]
                  for runs in by_prompt.values()]  # fmt: skip
        out |= dict(zip((f"be_{method}", f"be_{method}_low", f"be_{method}_high"),
                        stratified_interval([g for g in groups if g])))  # fmt: skip
    return out


def summarise_multidraft(result, gamma):
    """Per (drafter, K): block efficiency of multi-draft DISD with strong and with conditional
    invariance, and the paired difference conditional - strong (the cost of strong
    invariance), each the mean over prompts of the per-prompt means over seeds with a 95%
    interval (:func:`stratified_interval`); beside them SD and DISD-Gumbel (K = 1) on the same
    seeds and token count (``baseline_tokens``, which is shorter when the paths are)."""
    records = result["multidraft"]
    be = {(r["variant"], r["drafter"], r["drafts"], r["prompt"], r["seed"]): r["block_efficiency"]
          for r in records}  # fmt: skip
    by_prompt = _by_prompt(result["paths"])
    seeds = sorted({r["seed"] for r in records})
    tokens = records[0]["tokens"]
    n = min(tokens, len(result["paths"][0]["rows"][0]["tokens"]))
    out = []
    for name in dict.fromkeys(r["drafter"] for r in records):
        base = _baseline(by_prompt, name, set(seeds), n, gamma)
        for k in sorted({r["drafts"] for r in records}):
            row = {"drafter": name, "drafts": k, "gamma": gamma, "tokens": tokens,
                   "runs": len(by_prompt) * len(seeds)}  # fmt: skip
            strong = [[be[("strong", name, k, p, s)] for s in seeds] for p in by_prompt]
            cond = [[be[("conditional", name, k, p, s)] for s in seeds] for p in by_prompt]
            cost = [np.subtract(c, s) for c, s in zip(cond, strong)]
            for label, groups in (("strong", strong), ("conditional", cond), ("cost", cost)):
                row |= dict(zip((f"be_{label}", f"be_{label}_low", f"be_{label}_high"),
                                stratified_interval(groups)))  # fmt: skip
            out.append(row | base | {"baseline_tokens": n})
    return out
