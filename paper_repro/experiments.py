"""The paper's language-model experiments on a target and its drafters.

Each experiment stores one JSON record per unit of work under ``out/<experiment>/units/`` with
its settings (:class:`~coupling.paper_repro.units.UnitStore`): a rerun skips the units already
written, so an interrupted run resumes, and a rerun with other settings is refused. Summaries (CSV,
Markdown, figures) are rebuilt from the units.

1. ``coupling``: the paper's figure. ``tokens`` tokens sampled from the target (Gumbel, public
   seed) per prompt and template; at every position, for every drafter, D_TV, the exact and
   Monte Carlo Pr[a = b] of Gumbel and WMH, the bounds and the split of the Gumbel-WMH gap;
   at every ``list_every``-th position, the list coupling's exact matching probability and
   the list matching lemma for K = ``list_drafts`` drafts.
2. ``sd``: block efficiency of SD, DISD-Gumbel and DISD-WMH for every gamma, from many
   autoregressive paths (:mod:`coupling.paper_repro.speculative`), checked against real decoder
   runs; and multi-draft DISD (strong and conditional invariance) for K = ``md_drafts``.
3. ``invariance``: one seed, several drafters and none: DISD's text is the same, SD's is not;
   and the count of positions where a multi-token verify pass and one-token steps disagree.
"""

import time
from dataclasses import asdict, dataclass, field, fields

from coupling.decoding import KEY_CONVENTION, check_drafts, reference_rule, run_method, token_key
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.outputs import slug
from coupling.paper_repro.coupling_stats import list_row, position_row
from coupling.paper_repro.drafters import (
    DEFAULT_DRAFTERS,
    check_drafter_name,
    lazy_drafters,
    make_drafter,
)
from coupling.paper_repro.model import encode_prompt
from coupling.paper_repro.paths import drafter_path_logits, sample_paths
from coupling.paper_repro.speculative import sd_unit_count
from coupling.paper_repro.units import UnitStore

__all__ = [
    "BE_DRAFTERS",
    "EXPERIMENTS",
    "PROMPTS",
    "TEMPLATES",
    "UNREAD_FIELDS",
    "ReproConfig",
    "flip_count",
    "prompt_variants",
    "run_coupling",
    "run_invariance",
    "unit_count",
]

EXPERIMENTS = ("coupling", "sd", "invariance")
TEMPLATES = ("raw", "chat")

PROMPTS = (
    "What is the Traveling Salesman Problem (TSP)?",
    "What is post-quantum cryptography?",
    "What is the lower bound for sorting?",
)
#: Experiment 2's drafters: one per band of D_TV (high, middle, low).
BE_DRAFTERS = ("exit16", "q3g32", "temp1.25")
#: The fields of :class:`ReproConfig` each experiment does not read. Every other field, any
#: field added later included, is one of the experiment's settings: stored with each unit and
#: compared on resume, so units made before a change of that field are refused, not mixed in.
UNREAD_FIELDS = {
    "coupling": ("be_drafters", "be_seeds", "be_tokens", "gammas", "sd_seeds", "check_seeds",
                 "check_gamma", "flip_sequences", "md_drafts", "md_gamma", "md_seeds",
                 "md_tokens"),
    "sd": ("seed", "mc_trials", "drafters", "templates", "gammas", "flip_sequences",
           "list_drafts", "list_every"),
    "invariance": ("mc_trials", "drafters", "be_seeds", "be_tokens", "gammas", "sd_seeds",
                   "check_seeds", "check_gamma", "md_drafts", "md_gamma", "md_seeds",
                   "md_tokens", "list_drafts", "list_every"),
}  # fmt: skip


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")


@dataclass(frozen=True)
class ReproConfig:
    """Settings of the three experiments (each experiment records every field it may read
    with its units: see :data:`UNREAD_FIELDS`)."""

    target: str = "smollm2"  # the target model, as given to load_model
    dtype: str = "float32"
    seed: int = 0  # public seed of experiment 1's sequences and couplings, and of experiment 3
    tokens: int = 32  # tokens per sequence in experiments 1 and 3, as in the paper
    mc_trials: int = 20_000  # Monte Carlo coupling trials per position
    drafters: tuple = DEFAULT_DRAFTERS  # experiment 1
    templates: tuple = TEMPLATES  # raw prompts and/or the chat template
    be_drafters: tuple = BE_DRAFTERS  # experiments 2 and 3
    be_seeds: int = 16  # autoregressive paths per prompt and coupling in experiment 2
    be_tokens: int = 64  # their length
    gammas: tuple = (1, 2, 4, 8)
    sd_seeds: int = 2  # real SD runs per prompt and drafter (at check_gamma)
    check_seeds: int = 1  # real DISD runs per coupling and drafter on the first prompt
    check_gamma: int = 4  # gamma of the real runs that check the replay
    flip_sequences: int = 3  # sequences scored for floating-point flips
    md_drafts: tuple = (2, 4, 8)  # K of multi-draft DISD in experiment 2
    md_gamma: int = 4  # its draft length (the paper's L)
    md_seeds: int = 6  # its runs per prompt (public seeds 0, 1, ...), replayed exactly
    md_tokens: int = 32  # their length
    list_drafts: tuple = (1, 2, 4, 8)  # K of the list coupling in experiment 1
    list_every: int = 8  # ... at positions 0, list_every, ... (0.5-1.5 s per position)
    prompts: tuple = PROMPTS
    # How the decoders key their public randomness (a record, not a choice): units made under
    # another convention (before: the index within the generated output) are refused.
    key_convention: str = field(default=KEY_CONVENTION, init=False)

    def __post_init__(self):
        for name in ("tokens", "mc_trials", "be_seeds", "be_tokens", "sd_seeds", "check_seeds",
                     "check_gamma", "list_every", "md_gamma", "md_seeds", "md_tokens"):  # fmt: skip
            _positive_int(name, getattr(self, name))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if isinstance(self.flip_sequences, bool) or not isinstance(self.flip_sequences, int) \
                or self.flip_sequences < 0:  # fmt: skip
            raise ValueError(f"flip_sequences must be an int >= 0, got {self.flip_sequences!r}")
        for name in ("drafters", "be_drafters", "gammas", "templates", "prompts", "list_drafts"):
            if not getattr(self, name):
                raise ValueError(f"{name} is empty: the experiments would compute nothing")
        for name in (*self.drafters, *self.be_drafters):
            check_drafter_name(name)
        for g in self.gammas:
            _positive_int("every gamma", g)
        for k in self.list_drafts:
            _positive_int("every list_drafts K", k)
        if not self.md_drafts:
            raise ValueError("md_drafts is empty: the experiments would compute nothing")
        for k in self.md_drafts:
            check_drafts(k)
        for t in self.templates:
            if t not in TEMPLATES:
                raise ValueError(f"unknown template {t!r}; choose from {', '.join(TEMPLATES)}")

    def settings(self, experiment):
        """Every field but those experiment ``experiment`` does not read
        (:data:`UNREAD_FIELDS`): recorded with each of its units and checked when it resumes."""
        unread = UNREAD_FIELDS[experiment]
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in unread}

    def as_dict(self):
        """Every setting, with the time it was recorded (for the run's settings file)."""
        return asdict(self) | {"time": time.strftime("%Y-%m-%d %H:%M:%S")}


def prompt_variants(cfg):
    """(prompt, template) pairs of experiments 1 and 3, prompts outer."""
    return [(p, t) for p in cfg.prompts for t in cfg.templates]


def _tick(progress):
    if progress:
        progress(1)


def run_coupling(loaded, cfg, out, progress=None):
    """Experiment 1; returns one record per (prompt, template) with its per-position rows."""
    store = UnitStore(out, cfg.settings("coupling"))
    drafters = lazy_drafters(cfg.drafters, loaded)
    sampling = SamplingConfig()
    records = []
    for prompt, template in prompt_variants(cfg):
        name = f"coupling-{slug(prompt)}-{template}"

        def compute(prompt=prompt, template=template):
            ids = encode_prompt(loaded.tokenizer, prompt, chat=template == "chat")
            (path,), logits = sample_paths(loaded.model, ids, [(cfg.seed, "gumbel")],
                                           cfg.tokens, sampling)  # fmt: skip
            ps = [sampling.probs(row) for row in logits[0]]
            rows = []
            for d, drafter in drafters().items():
                qs = drafter_path_logits(drafter, loaded.model, logits, ids, [path])[0]
                for t, (p, zq) in enumerate(zip(ps, qs)):
                    q = sampling.probs(zq)
                    row = position_row(p, q, position=t, mc_trials=cfg.mc_trials,
                                       seed=cfg.seed)  # fmt: skip
                    if t % cfg.list_every == 0:
                        row |= list_row(p, q, cfg.list_drafts)
                    rows.append({"drafter": d, "token": path[t], **row})
            return {"prompt": prompt, "template": template, "rows": rows, "tokens": path,
                    "text": loaded.tokenizer.decode(path),
                    "mc_trials": cfg.mc_trials}  # fmt: skip

        records.append(store.get(name, compute))
        _tick(progress)
    return records


def flip_count(loaded, prompt_ids, tokens, seed, block):
    """Positions where scoring ``tokens`` in passes of ``block`` tokens and in one-token steps
    give different Gumbel samples, and the largest logit difference seen."""
    import torch

    sampling, rule = SamplingConfig(), reference_rule(seed)
    steps, blocks = CachedLM(loaded.model), CachedLM(loaded.model)
    seq = list(prompt_ids) + list(tokens)
    base = len(prompt_ids)
    one = torch.stack([steps.logits(seq[: base + t], 1)[0] for t in range(len(tokens))])
    many = []  # row j of a pass over seq[:L] with count k predicts the token after
    for s in range(0, len(tokens), block):  # seq[:L - k + 1 + j]: here after seq[:base + s + j]
        k = min(block, len(tokens) - s)
        many.append(blocks.logits(seq[: base + s + k - 1], k))
    many = torch.cat(many)
    keys = [token_key(base, t) for t in range(len(tokens))]
    flips = sum(rule.sample(sampling.probs(one[t]), k) != rule.sample(sampling.probs(many[t]), k)
                for t, k in enumerate(keys))  # fmt: skip
    return int(flips), float((one - many).abs().max())


def invariance_drafters(cfg):
    """Experiment 3's drafters: the first three of experiment 2's."""
    return tuple(cfg.be_drafters[:3])


def run_invariance(loaded, cfg, out, progress=None):
    """Experiment 3: texts of DISD and SD under several drafters for one seed, and flips."""
    store = UnitStore(out, cfg.settings("invariance"))
    sampling = SamplingConfig()
    target = CachedLM(loaded.model)
    prompt, template = prompt_variants(cfg)[0]
    ids = encode_prompt(loaded.tokenizer, prompt, chat=template == "chat")
    common = {"seed": cfg.seed, "gamma": 4, "max_new_tokens": cfg.tokens, "sampling": sampling}

    def compute():
        runs = [
            {
                "method": "autoregressive",
                "drafter": None,
                "tokens": run_method("autoregressive", target, None, ids, **common).tokens,
            }
        ]
        for name in invariance_drafters(cfg):
            d = make_drafter(name, loaded)
            for method in ("disd-gumbel", "sd"):
                runs.append(
                    {
                        "method": method,
                        "drafter": name,
                        "tokens": run_method(method, target, d, ids, **common).tokens,
                    }
                )
        for r in runs:
            r["text"] = loaded.tokenizer.decode(r["tokens"])
        return {"prompt": prompt, "template": template, "seed": cfg.seed, "gamma": 4,
                "runs": runs}  # fmt: skip

    demo = store.get("invariance-demo", compute)
    _tick(progress)
    flips = []
    for k, (prompt, template) in enumerate(prompt_variants(cfg)[: cfg.flip_sequences]):

        def compute_flips(prompt=prompt, template=template):
            pids = encode_prompt(loaded.tokenizer, prompt, chat=template == "chat")
            toks = run_method("autoregressive", target, None, pids, **common).tokens
            rec = {"prompt": prompt, "template": template, "seed": cfg.seed,
                   "positions": len(toks)}  # fmt: skip
            for block in (4, 8):
                rec[f"flips_block{block}"], rec[f"max_logit_diff_block{block}"] = flip_count(
                    loaded, pids, toks, cfg.seed, block
                )
            return rec

        flips.append(store.get(f"flips-{k}", compute_flips))
        _tick(progress)
    return demo, flips


def unit_count(name, cfg):
    """How many units experiment ``name`` runs under ``cfg`` (its progress total)."""
    if name == "coupling":
        return len(prompt_variants(cfg))
    if name == "sd":
        return sd_unit_count(cfg)
    if name == "invariance":
        return 1 + min(cfg.flip_sequences, len(prompt_variants(cfg)))
    raise ValueError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
