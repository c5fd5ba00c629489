"""The paper's language-model experiments on the default target and its early-exit drafters.

Each experiment writes one JSON record per unit of work (a prompt, a decoding run) atomically
under ``out/<experiment>/units/``; a rerun skips the units already written, so an interrupted
run resumes. Summaries (CSV, Markdown, figures) are rebuilt from the units.

1. ``coupling``: the paper's figure. 32 tokens sampled from the target (Gumbel, public seed); at
   every position the exact and Monte Carlo Pr[a = b] of Gumbel and WMH between the target and
   each drafter, against D_TV.
2. ``sd``: standard SD vs DISD-Gumbel vs DISD-WMH for gamma in {1, 2, 4, 8}: acceptance, block
   efficiency, tokens per second and speedup over autoregressive decoding.
3. ``invariance``: one seed, several drafters and none: DISD's text is the same, SD's is not;
   and the count of positions where a multi-token verify pass and one-token steps disagree.
"""

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from outputs import slug, write_json
from paper_repro.decoders import autoregressive, disd, reference_rule, standard_sd
from paper_repro.drafters import make_drafter
from paper_repro.lm import CachedLM
from paper_repro.model import encode_prompt
from paper_repro.sampling import SamplingConfig
from simulate import exact
from simulate.montecarlo import estimate

__all__ = [
    "EXPERIMENTS",
    "PROMPTS",
    "ReproConfig",
    "run_coupling",
    "run_invariance",
    "run_sd",
    "unit_count",
]

EXPERIMENTS = ("coupling", "sd", "invariance")

PROMPTS = (
    "What is the Traveling Salesman Problem (TSP)?",
    "What is post-quantum cryptography?",
    "What is the lower bound for sorting?",
)
SD_METHODS = ("sd", "disd-gumbel", "disd-wmh")  # experiment 2's methods besides the reference


@dataclass(frozen=True)
class ReproConfig:
    seed: int = 0  # public seed of the sampled sequences and of the couplings
    tokens: int = 32  # tokens per sequence, as in the paper
    mc_trials: int = 20_000  # Monte Carlo coupling trials per position
    drafters: tuple = ("exit8", "exit16", "exit8-raw", "exit16-raw")  # experiment 1
    sd_drafters: tuple = ("exit8", "exit16")  # experiments 2 and 3
    gammas: tuple = (1, 2, 4, 8)
    sd_seeds: tuple = (0, 1)
    flip_sequences: int = 6  # sequences scored for floating-point flips


def _unit(out, name, compute):
    path = Path(out) / "units" / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    record = compute()
    write_json(path, record)
    return record


def _prompts():
    return [(p, chat) for p in PROMPTS for chat in (False, True)]


def coupling_trace(loaded, drafters, prompt_ids, cfg):
    """Per position: D_TV, exact and MC Pr[a=b] (Gumbel, WMH) of target vs each drafter."""
    sampling = SamplingConfig()
    target = CachedLM(loaded.model)
    rule = reference_rule(cfg.seed)
    context = list(prompt_ids)
    rows = []
    for t in range(cfg.tokens):
        p = sampling.probs(target.logits(context, 1)[0])
        for name, drafter in drafters.items():
            q = sampling.probs(drafter.next_token_logits(context))
            row = {"position": t, "drafter": name, "tv": exact.tv_distance(p, q),
                   "lower_bound": exact.gumbel_lower_bound(p, q)}  # fmt: skip
            for proto in ("gumbel", "wmh"):
                row[f"{proto}_exact"] = exact.collision_probability(p, q, proto)
                mc = estimate(p, q, proto, cfg.mc_trials, seed=cfg.seed, key=t * 2**32)
                row[f"{proto}_mc"], row[f"{proto}_se"] = mc.value, mc.stderr
            rows.append(row)
        context.append(rule.sample(p, t))
    return rows, context[len(prompt_ids) :]


def run_coupling(loaded, cfg, out, progress=None):
    """Experiment 1; returns the per-position rows of every prompt variant."""
    drafters = {name: make_drafter(name, loaded) for name in cfg.drafters}
    records = []
    for prompt, chat in _prompts():
        name = f"coupling-{slug(prompt)}-{'chat' if chat else 'raw'}"

        def compute(prompt=prompt, chat=chat):
            ids = encode_prompt(loaded.tokenizer, prompt, chat=chat)
            rows, tokens = coupling_trace(loaded, drafters, ids, cfg)
            return {"prompt": prompt, "chat": chat, "rows": rows, "tokens": tokens,
                    "text": loaded.tokenizer.decode(tokens),
                    "mc_trials": cfg.mc_trials}  # fmt: skip

        records.append(_unit(out, name, compute))
        if progress:
            progress(1)
    return records


def run_sd(loaded, cfg, out, progress=None):
    """Experiment 2; returns one record per (prompt, seed, method, drafter, gamma)."""
    sampling = SamplingConfig()
    target = CachedLM(loaded.model)
    drafters = {name: make_drafter(name, loaded) for name in cfg.sd_drafters}
    records = []
    for prompt in PROMPTS:
        ids = encode_prompt(loaded.tokenizer, prompt, chat=False)
        for seed in cfg.sd_seeds:
            common = {"seed": seed, "max_new_tokens": cfg.tokens, "sampling": sampling}
            runs = [("autoregressive", None, 0)]
            runs += [(m, d, g) for d in cfg.sd_drafters for g in cfg.gammas
                     for m in SD_METHODS]  # fmt: skip
            for method, dname, gamma in runs:
                name = f"sd-{slug(prompt)}-s{seed}-{method}-{dname}-g{gamma}"

                def compute(
                    method=method,
                    dname=dname,
                    gamma=gamma,
                    ids=ids,
                    common=common,
                    prompt=prompt,
                    seed=seed,
                ):
                    if method == "autoregressive":
                        r = autoregressive(target, ids, **common)
                    elif method == "sd":
                        r = standard_sd(target, drafters[dname], ids, gamma=gamma, **common)
                    else:
                        r = disd(target, drafters[dname], ids, gamma=gamma,
                                 coupling=method.split("-")[1], **common)  # fmt: skip
                    # stats carry "tokens", the count; the ids go under "token_ids"
                    return {"prompt": prompt, "seed": seed, "method": method,
                            "drafter": dname, "gamma": gamma, "token_ids": r.tokens,
                            **r.stats.as_dict()}  # fmt: skip

                records.append(_unit(out, name, compute))
                if progress:
                    progress(1)
    return records


def flip_count(loaded, prompt_ids, tokens, seed, block):
    """Positions where scoring ``tokens`` in passes of ``block`` tokens and in one-token steps
    give different Gumbel samples, and the largest logit difference seen."""
    sampling, rule = SamplingConfig(), reference_rule(seed)
    steps, blocks = CachedLM(loaded.model), CachedLM(loaded.model)
    seq = list(prompt_ids) + list(tokens)
    base = len(prompt_ids)
    one = np.stack([steps.logits(seq[: base + t], 1)[0] for t in range(len(tokens))])
    many = []  # row j of a pass over seq[:L] with count k predicts the token after
    for s in range(0, len(tokens), block):  # seq[:L - k + 1 + j]: here after seq[:base + s + j]
        k = min(block, len(tokens) - s)
        many.append(blocks.logits(seq[: base + s + k - 1], k))
    many = np.concatenate(many)
    flips = sum(rule.sample(sampling.probs(one[t]), t) != rule.sample(sampling.probs(many[t]), t)
                for t in range(len(tokens)))  # fmt: skip
    return int(flips), float(np.max(np.abs(one - many)))


def run_invariance(loaded, cfg, out, progress=None):
    """Experiment 3: texts of DISD and SD under several drafters for one seed, and flips."""
    sampling = SamplingConfig()
    target = CachedLM(loaded.model)
    names = (*cfg.sd_drafters, "exit8-raw")
    ids = encode_prompt(loaded.tokenizer, PROMPTS[0], chat=False)

    def compute():
        common = {"seed": cfg.seed, "max_new_tokens": cfg.tokens, "sampling": sampling}
        runs = [{"method": "autoregressive", "drafter": None,
                 "tokens": autoregressive(target, ids, **common).tokens}]  # fmt: skip
        for name in names:
            d = make_drafter(name, loaded)
            runs.append({"method": "disd-gumbel", "drafter": name,
                         "tokens": disd(target, d, ids, gamma=4, **common).tokens})  # fmt: skip
            runs.append(
                {
                    "method": "sd",
                    "drafter": name,
                    "tokens": standard_sd(target, d, ids, gamma=4, **common).tokens,
                }
            )
        for r in runs:
            r["text"] = loaded.tokenizer.decode(r["tokens"])
        return {"prompt": PROMPTS[0], "seed": cfg.seed, "gamma": 4, "runs": runs}

    demo = _unit(out, "invariance-demo", compute)
    if progress:
        progress(1)
    flips = []
    for k, (prompt, chat) in enumerate(_prompts()[: cfg.flip_sequences]):

        def compute_flips(prompt=prompt, chat=chat, k=k):
            pids = encode_prompt(loaded.tokenizer, prompt, chat=chat)
            toks = autoregressive(target, pids, seed=cfg.seed + k, max_new_tokens=cfg.tokens,
                                  sampling=sampling).tokens  # fmt: skip
            rec = {"prompt": prompt, "chat": chat, "seed": cfg.seed + k, "positions": len(toks)}
            for block in (4, 8):
                rec[f"flips_block{block}"], rec[f"max_logit_diff_block{block}"] = flip_count(
                    loaded, pids, toks, cfg.seed + k, block
                )
            return rec

        flips.append(_unit(out, f"flips-{k}", compute_flips))
        if progress:
            progress(1)
    return demo, flips


def config_dict(cfg):
    return asdict(cfg) | {"time": time.strftime("%Y-%m-%d %H:%M:%S")}


def unit_count(name, cfg):
    """How many units experiment ``name`` runs under ``cfg`` (its progress total)."""
    if name == "coupling":
        return len(_prompts())
    if name == "sd":
        runs = 1 + len(SD_METHODS) * len(cfg.sd_drafters) * len(cfg.gammas)
        return len(PROMPTS) * len(cfg.sd_seeds) * runs
    if name == "invariance":
        return 1 + min(cfg.flip_sequences, len(_prompts()))
    raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
