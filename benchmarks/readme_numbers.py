"""The README's tables of computed numbers, each printed by one command, so that they can be
regenerated and checked rather than copied by hand.

Run from the repository root::

    python3 benchmarks/readme_numbers.py lists             # "Several drafts: the list coupling"
    python3 benchmarks/readme_numbers.py lm RESULTS_DIR    # "Language-model reference numbers"

``lists`` computes, on four pairs made with seed 0, the list coupling's exact matching
probability Pr[target's item in the K-draft list] for K = 1, 2, 4, 8, the paper's lemma
sum_j K p_j / (K + c_j) at K = 8, and the fast engine's estimate at K = 8 (``TRIALS`` trials,
seed 0) with its standard error (about 8 s). ``lm`` reads ``RESULTS_DIR/repro/sd/`` as written by
``coupling reproduce --out RESULTS_DIR`` and prints the block-efficiency table (SD, DISD-Gumbel,
DISD-WMH per drafter and gamma, DISD's ratio to SD) and the run's settings and checks that the
README's text quotes. Both print Markdown.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

from coupling.simulate import estimate, exact
from coupling.simulate.families import make_pair
from coupling.simulate.multidraft import list_matching

SEED = 0
TRIALS = 4_000_000
DRAFTS = (1, 2, 4, 8)
#: (label, family, n, parameters) of the pairs in the README's list-coupling table.
LIST_PAIRS = (
    ("llm-softmax, n = 49,152", "llm-softmax", 49_152, {}),
    ("zipf, n = 50,000", "zipf", 50_000, {}),
    ("dirichlet(0.3), n = 1,000", "dirichlet", 1_000, {"alpha": 0.3}),
    ("kset(20, overlap 10), n = 100", "kset", 100, {"k": 20, "overlap": 10}),
)
METHODS = ("sd", "disd-gumbel", "disd-wmh")


def _row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def list_coupling_table():
    """The README's list-coupling table as Markdown lines (header, rule, one row per pair)."""
    largest = DRAFTS[-1]
    lines = [_row(["pair", "D", *(f"K = {k}" for k in DRAFTS[:-1]), f"K = {largest} (lemma)",
                   f"fast MC, K = {largest}"]),
             _row(["---"] * (len(DRAFTS) + 3))]  # fmt: skip
    for label, family, n, params in LIST_PAIRS:
        pair = make_pair(family, n, seed=SEED, **params)
        values = [exact.collision_probability(pair.p, pair.q, "gls", drafts=k) for k in DRAFTS]
        lemma = list_matching(pair.p, pair.q, largest).lemma
        mc = estimate(pair.p, pair.q, "gls", TRIALS, seed=SEED, drafts=largest)
        cells = [f"{v:.6f}" for v in values]
        cells[-1] += f" ({lemma:.6f})"
        lines.append(_row([label, f"{pair.D:.3g}", *cells, f"{mc.value:.6f} ± {mc.stderr:.6f}"]))
    return lines


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def block_efficiency_table(results):
    """The block-efficiency table of ``results/repro/sd/block_efficiency.csv`` as Markdown
    lines: SD, then each DISD coupling with its ratio to SD, per drafter and gamma."""
    lines = [_row(["drafter", "gamma", "SD", "DISD-Gumbel (÷ SD)", "DISD-WMH (÷ SD)"]),
             _row(["---"] * 5)]  # fmt: skip
    for r in _csv(Path(results) / "repro" / "sd" / "block_efficiency.csv"):
        sd = float(r["be_sd"])
        disd = [float(r[f"be_{m}"]) for m in METHODS[1:]]
        lines.append(_row([r["drafter"], r["gamma"], f"{sd:.3f}",
                           *(f"{v:.3f} ({v / sd:.2f})" for v in disd)]))  # fmt: skip
    return lines


def lm_facts(results):
    """What the README's text says about the run: settings, acceptance per drafter, DISD's
    share of SD's block efficiency, the replay and invariance checks, floating-point flips."""
    sd_dir, inv_dir = Path(results) / "repro" / "sd", Path(results) / "repro" / "invariance"
    settings = json.loads((sd_dir / "settings.json").read_text())
    rows = _csv(sd_dir / "block_efficiency.csv")
    facts = [f"paths: {len(settings['prompts'])} prompts x {settings['be_seeds']} seeds x 2 "
             f"couplings, {settings['be_tokens']} tokens; target {settings['target']} "
             f"({settings['dtype']})"]  # fmt: skip
    for drafter in dict.fromkeys(r["drafter"] for r in rows):
        mine = [r for r in rows if r["drafter"] == drafter]
        acc = " / ".join(f"{float(mine[0][f'acc_{m}']):.3f}" for m in METHODS)
        ratios = {m: [float(r[f"be_{m}"]) / float(r["be_sd"]) for r in mine] for m in METHODS[1:]}
        share = ", ".join(f"{m} {100 * (1 - max(v)):.0f}-{100 * (1 - min(v)):.0f} % below SD"
                          for m, v in ratios.items())  # fmt: skip
        cost = float(mine[0]["cost_ratio"])
        facts.append(f"{drafter}: acceptance SD / DISD-Gumbel / DISD-WMH {acc}; {share}; "
                     f"cost ratio {cost:.2f}")  # fmt: skip
    checks = _csv(sd_dir / "disd_checks.csv")
    same = sum(r["tokens_equal"] == "True" and r["flags_equal"] == "True" for r in checks)
    facts.append(f"replay: {same} of {len(checks)} real DISD runs reproduced token for token")
    texts = _csv(inv_dir / "texts.csv")
    reference = next(r["text"] for r in texts if r["method"] == "autoregressive")
    disd = [r["text"] == reference for r in texts if r["method"] == "disd-gumbel"]
    sd = {r["text"] for r in texts if r["method"] == "sd"}
    facts.append(f"invariance: DISD-Gumbel equals autoregressive sampling with {sum(disd)} of "
                 f"{len(disd)} drafters; SD gives {len(sd)} distinct texts")  # fmt: skip
    flips = _csv(inv_dir / "flips.csv")
    largest = max(float(r[k]) for r in flips for k in r if k.startswith("max_logit_diff"))
    count = sum(int(r[k]) for r in flips for k in r if k.startswith("flips_block"))
    positions = sum(int(r["positions"]) for r in flips)
    facts.append(f"flips: {count} over {len(flips)} sequences x {positions // len(flips)} "
                 f"positions (verify passes of 4 and 8), largest logit difference "
                 f"{largest:.1e}")  # fmt: skip
    return facts


def main(argv=None):
    """Print the table asked for; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="table", required=True)
    sub.add_parser("lists", help="the list-coupling table (exact, lemma, fast MC)")
    lm = sub.add_parser("lm", help="the block-efficiency table of a `coupling reproduce` run")
    lm.add_argument("results", help="the --out of `coupling reproduce` (default results)")
    args = parser.parse_args(argv)
    if args.table == "lists":
        print(f"Exact value, the lemma and the fast engine ({TRIALS:,} trials) at seed {SEED}:")
        print("\n".join(list_coupling_table()))
        return 0
    if not (Path(args.results) / "repro" / "sd" / "block_efficiency.csv").is_file():
        parser.error(f"{args.results} holds no repro/sd/block_efficiency.csv: run "
                     f"`coupling reproduce --out {args.results}` first")  # fmt: skip
    print("\n".join(block_efficiency_table(args.results)))
    print()
    print("\n".join(lm_facts(args.results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
