"""Block efficiency of multi-draft DISD, strong against conditional, from real decoder runs.

Each (prompt, seed, drafter, K) runs both variants of
:func:`~coupling.decoding.multidraft` (and single-draft DISD-Gumbel, the K = 1 case of
the strong variant) with the same public seed; the cost of strong invariance is the paired
difference of block efficiencies (tokens per target call), summarised with a Student t
interval over the pairs.
"""

import math

import numpy as np
from coupling.decoding import run_method
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.drafters import lazy_drafters
from coupling.paper_repro.model import encode_prompt
from scipy import stats

__all__ = ["CONFIDENCE", "multidraft_runs", "strong_cost"]

CONFIDENCE = 0.95


def multidraft_runs(loaded, drafters, prompts, seeds, ks, *, gamma, tokens, progress=None):
    """One record per (prompt, seed, drafter, method, K): DISD-Gumbel once, then
    ``mdisd-strong`` and ``mdisd-conditional`` for every K in ``ks``."""
    get = lazy_drafters(drafters, loaded)
    target = CachedLM(loaded.model)
    sampling = SamplingConfig()
    out = []
    for prompt in prompts:
        ids = encode_prompt(loaded.tokenizer, prompt, chat=False)
        for seed in range(seeds):
            for name in drafters:
                jobs = [("disd-gumbel", None)]
                jobs += [(m, k) for k in ks for m in ("mdisd-strong", "mdisd-conditional")]
                for method, k in jobs:
                    r = run_method(method, target, get()[name], ids, seed=seed, gamma=gamma,
                                   max_new_tokens=tokens, sampling=sampling, drafts=k)  # fmt: skip
                    out.append({"prompt": prompt, "seed": seed, "drafter": name,
                                "method": method, "drafts": k or 1, "gamma": gamma,
                                **r.stats.as_dict()})  # fmt: skip
                    if progress:
                        progress(1)
    return out


def _interval(values):
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if x.size < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return mean, mean - half, mean + half


def strong_cost(records):
    """Per (drafter or "all", K): mean block efficiency of each variant and the paired
    difference conditional - strong, each with its t interval (``CONFIDENCE``)."""
    key = lambda r: (r["prompt"], r["seed"], r["drafter"], r["drafts"])  # noqa: E731
    by = {(key(r), r["method"]): r["block_efficiency"] for r in records}
    rows = []
    ks = sorted({r["drafts"] for r in records if r["method"] != "disd-gumbel"})
    names = sorted({r["drafter"] for r in records})
    for name in [*names, "all"]:
        for k in ks:
            pairs = [(by[(c, "mdisd-strong")], by[(c, "mdisd-conditional")])
                     for (c, m) in by if m == "mdisd-strong" and c[3] == k
                     and name in ("all", c[2])]  # fmt: skip
            strong, cond = zip(*pairs)
            disd = [v for (c, m), v in by.items() if m == "disd-gumbel" and name in ("all", c[2])]
            rows.append({"drafter": name, "drafts": k, "runs": len(pairs),
                         "disd": _interval(disd), "strong": _interval(strong),
                         "conditional": _interval(cond),
                         "cost": _interval([c - s for s, c in pairs])})  # fmt: skip
    return rows
