"""Experiment 2: block efficiency of SD, DISD-Gumbel and DISD-WMH for every gamma.

For each prompt, ``be_seeds`` autoregressive paths of ``be_tokens`` tokens per coupling (public
seeds 0, 1, ...; Gumbel paths are what DISD-Gumbel emits, WMH paths what DISD-WMH emits) are
sampled in batches (:func:`~coupling.paper_repro.paths.sample_paths`), and every drafter scores them
in one teacher-forced pass (:func:`~coupling.paper_repro.paths.path_logits`). At each position the
unit records, per drafter: D_TV; the DISD acceptance flag of the path's own coupling (the drafter's
coupled sample equals the emitted token); the three in-law acceptance rates of
:func:`~coupling.paper_repro.block_efficiency.acceptance_rates`; WMH's exact Pr[a = b]; and Gumbel's
exact Pr[a = b] at every ``JP_EVERY``-th position (it costs a sort of the vocabulary). DISD's
runs for every gamma follow from the flags (:func:`~coupling.paper_repro.block_efficiency.replay`);
all three methods' expected block efficiency on every path from the rates.

Multi-draft DISD (both variants, ``md_drafts`` chains of ``md_gamma`` tokens) is replayed
exactly along its emitted paths (:mod:`~coupling.paper_repro.multidraft_paths`), ``md_seeds`` seeds
of ``md_tokens`` tokens per prompt: one unit per prompt for the strong variant (the K-slot race's
path, every drafter teacher-forced along it) and one per (prompt, drafter) for the conditional
variant (target and drafter stepped in lockstep).

Real decoder runs check both: DISD-Gumbel and DISD-WMH on the first prompt's first seeds must
reproduce the replayed flags and block efficiency exactly, and standard SD on every prompt
gives an independent estimate to compare with the in-law one. A drafter's cost relative to the
target is measured as the ratio of their one-token step times.
"""

import time

import numpy as np
from coupling.decoding import DisdRule, run_method, token_key
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.outputs import safe_name, slug
from coupling.paper_repro.block_efficiency import acceptance_rates_path
from coupling.paper_repro.coupling_stats import tv_and_wmh
from coupling.paper_repro.drafters import lazy_drafters
from coupling.paper_repro.model import encode_prompt
from coupling.paper_repro.multidraft_paths import replay_conditional, replay_strong
from coupling.paper_repro.paths import drafter_path_logits, sample_paths
from coupling.paper_repro.units import UnitStore
from coupling.simulate import exact

__all__ = ["JP_EVERY", "SEEDS_PER_UNIT", "multidraft_units", "real_runs", "run_sd", "score_paths",
           "sd_unit_count"]  # fmt: skip

JP_EVERY = 4  # exact Gumbel Pr[a = b] at positions t with t % JP_EVERY == 0
SEEDS_PER_UNIT = 8  # seeds per batch of paths (two rows each: Gumbel and WMH)
COST_STEPS = 6  # one-token steps timed per model for the cost ratio


def _short(values):
    """Floats rounded to 7 significant digits (the unit files stay small)."""
    return [float(f"{x:.7g}") for x in values]


def _batches(cfg):
    return [range(s, min(s + SEEDS_PER_UNIT, cfg.be_seeds))
            for s in range(0, cfg.be_seeds, SEEDS_PER_UNIT)]  # fmt: skip


def real_runs(cfg):
    """The real decoder runs: (prompt, seed, method, drafter), all at ``check_gamma``."""
    runs = [(cfg.prompts[0], s, m, d) for s in range(cfg.check_seeds) for d in cfg.be_drafters
            for m in ("disd-gumbel", "disd-wmh")]  # fmt: skip
    runs += [(p, s, "sd", d) for p in cfg.prompts for s in range(cfg.sd_seeds)
             for d in cfg.be_drafters]  # fmt: skip
    return runs


def sd_unit_count(cfg):
    """Units of experiment 2: path batches, the cost measurement, the real runs and the
    multi-draft replays."""
    return (len(cfg.prompts) * len(_batches(cfg)) + 1 + len(real_runs(cfg))
            + len(cfg.prompts) * (1 + len(cfg.be_drafters)))  # fmt: skip


def _md_records(replays, prompt, variant, name):
    return [{"prompt": prompt, "variant": variant, "drafter": name, "seed": r.seed,
             "drafts": r.drafts, "tokens": len(r.tokens), "target_calls": r.target_calls,
             "accepted": r.accepted, "block_efficiency": r.block_efficiency}
            for r in replays]  # fmt: skip


def multidraft_units(loaded, cfg, store, get_drafters, sampling, progress=None):
    """The multi-draft replays of every prompt: a flat list of run records (prompt, variant,
    drafter, seed, drafts, tokens, target_calls, accepted, block_efficiency)."""
    rows = [(s, k) for s in range(cfg.md_seeds) for k in cfg.md_drafts]
    common = {"gamma": cfg.md_gamma, "tokens": cfg.md_tokens, "sampling": sampling}
    out = []
    for prompt in cfg.prompts:
        ids = encode_prompt(loaded.tokenizer, prompt, chat=False)

        def strong(ids=ids, prompt=prompt):
            runs = replay_strong(loaded.model, get_drafters(), ids, rows, **common)
            return [r for name, reps in runs.items()
                    for r in _md_records(reps, prompt, "strong", name)]  # fmt: skip

        out += store.get(f"md-strong-{slug(prompt)}", strong)
        if progress:
            progress(1)
        for dname in cfg.be_drafters:

            def conditional(ids=ids, prompt=prompt, dname=dname):
                reps = replay_conditional(loaded.model, get_drafters()[dname], ids, rows,
                                          **common)  # fmt: skip
                return _md_records(reps, prompt, "conditional", dname)

            out += store.get(f"md-cond-{slug(prompt)}-{safe_name(dname)}", conditional)
            if progress:
                progress(1)
    return out


def _row_stats(rule, p, q, path, prompt_length):
    """One path's statistics for one drafter, vectorised over the positions: ``p``, ``q`` the
    (T, V) distributions along ``path`` (which continues a prompt of ``prompt_length``
    tokens), ``rule`` the DisdRule of the path's own coupling."""
    tv, wmh = tv_and_wmh(p, q)
    rates = acceptance_rates_path(p, q, path, tv)
    flags = "".join("1" if rule.draft(q[t], token_key(prompt_length, t)) == y else "0"
                    for t, y in enumerate(path))  # fmt: skip
    jp = [exact.collision_probability(p[t], q[t], "gumbel") for t in range(0, len(path), JP_EVERY)]
    return {"tv": _short(tv), "flag": flags,
            **{key: _short(a) for key, a in zip(("a_sd", "a_gumbel", "a_wmh"), rates)},
            "wmh_exact": _short(wmh), "gumbel_exact": _short(jp)}  # fmt: skip


def score_paths(model, drafters, ids, rows, tokens, sampling):
    """Sample one path of ``model`` per (seed, coupling) row and score every drafter along it.

    Returns one record per row: seed, coupling, tokens, and per drafter name the per-position
    lists ``tv``, ``flag`` (a string of 0/1: DISD acceptance with the row's coupling),
    ``a_sd``, ``a_gumbel``, ``a_wmh`` (in-law acceptance rates), ``wmh_exact`` and
    ``gumbel_exact`` (at positions ``0, JP_EVERY, 2 JP_EVERY, ...``).
    """
    paths, logits = sample_paths(model, ids, rows, tokens, sampling)
    records = [{"seed": s, "coupling": c, "tokens": path, "drafters": {}}
               for (s, c), path in zip(rows, paths)]  # fmt: skip
    ps = [np.array([sampling.probs(z) for z in row]) for row in logits]
    for name, drafter in drafters.items():
        q_logits = drafter_path_logits(drafter, model, logits, ids, paths)
        for (seed, coupling), rec, path, p, zq in zip(rows, records, paths, ps, q_logits):
            q = np.array([sampling.probs(z) for z in zq])
            rec["drafters"][name] = _row_stats(DisdRule(seed, coupling), p, q, path, len(ids))
    return records


def _step_seconds(model, ids):
    lm = CachedLM(model)
    lm.logits(ids, 1)
    times = []
    for k in range(COST_STEPS):
        start = time.perf_counter()
        lm.logits([*ids, *range(1, k + 2)], 1)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _costs(loaded, drafters, ids):
    """Median one-token step time of the target and of each drafter, and their ratios."""
    target = _step_seconds(loaded.model, ids)
    out = {"target_step_s": target, "drafters": {}}
    for name, d in drafters.items():
        own = target if d.lm.model is loaded.model else _step_seconds(d.lm.model, ids)
        out["drafters"][name] = {"step_s": own, "cost_ratio": own / target}
    return out


def run_sd(loaded, cfg, out, progress=None):
    """Experiment 2; returns {"paths": [...], "costs": {...}, "runs": [...],
    "multidraft": [...]}."""
    store = UnitStore(out, cfg.settings("sd"))
    get_drafters = lazy_drafters(cfg.be_drafters, loaded)

    sampling = SamplingConfig()
    paths = []
    for prompt in cfg.prompts:
        ids = encode_prompt(loaded.tokenizer, prompt, chat=False)
        for seeds in _batches(cfg):
            name = f"paths-{slug(prompt)}-s{seeds[0]}-{seeds[-1]}"

            def compute(ids=ids, seeds=seeds, prompt=prompt):
                rows = [(s, c) for s in seeds for c in ("gumbel", "wmh")]
                scored = score_paths(loaded.model, get_drafters(), ids, rows, cfg.be_tokens,
                                     sampling)  # fmt: skip
                return {"prompt": prompt, "rows": scored, "jp_every": JP_EVERY}

            paths.append(store.get(name, compute))
            if progress:
                progress(1)
    first = encode_prompt(loaded.tokenizer, cfg.prompts[0], chat=False)
    costs = store.get("costs", lambda: _costs(loaded, get_drafters(), first))
    if progress:
        progress(1)
    target = CachedLM(loaded.model)
    runs = []
    for prompt, seed, method, dname in real_runs(cfg):
        name = f"run-{slug(prompt)}-s{seed}-{method}-{safe_name(dname)}-g{cfg.check_gamma}"

        def compute_run(prompt=prompt, seed=seed, method=method, dname=dname):
            ids = encode_prompt(loaded.tokenizer, prompt, chat=False)
            r = run_method(method, target, get_drafters()[dname], ids, seed=seed,
                           gamma=cfg.check_gamma, max_new_tokens=cfg.tokens,
                           sampling=sampling)  # fmt: skip
            return {"prompt": prompt, "seed": seed, "method": method, "drafter": dname,
                    "gamma": cfg.check_gamma, "token_ids": r.tokens,
                    "accept_flags": [bool(f) for f in r.stats.accept_flags],
                    **r.stats.as_dict()}  # fmt: skip

        runs.append(store.get(name, compute_run))
        if progress:
            progress(1)
    md = multidraft_units(loaded, cfg, store, get_drafters, sampling, progress)
    return {"paths": paths, "costs": costs, "runs": runs, "multidraft": md}
