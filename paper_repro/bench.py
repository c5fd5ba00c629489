"""Costs on the real model for ``coupling bench --lm``: a target step, a verify pass, and the
public randomness per position against the step, all measured in the same run.

Returns :class:`simulate.bench.BenchRow` rows; printing is the CLI's job.
"""

import time
from functools import partial

import numpy as np

from paper_repro.lm import CachedLM
from paper_repro.model import load_model
from paper_repro.sampling import SamplingConfig
from simulate import gumbel_sample, wmh_sample
from simulate.bench import BenchRow

__all__ = ["lm_benchmarks"]

PROMPT = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'
VERIFY_DRAFTS = 5


def _median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def lm_benchmarks(*, target="smollm2", positions=16, repeats=5, seed=0):
    """Load time (cached files: first in the process, which pays transformers' lazy module
    imports, and again), ms per one-token step and per verify pass, and the Gumbel and WMH
    samplers' cost per position as a share of the step (target: under 5%).

    ``positions`` real next-token distributions of the target, from greedy steps after a
    fixed code prompt, feed the samplers; each sampler runs ``repeats`` times per position.
    """
    import torch

    loaded = load_model(target)  # in a fresh process this pays transformers' lazy imports
    again = load_model(target).seconds  # the files alone
    lm = CachedLM(loaded.model)
    context = list(loaded.tokenizer(PROMPT)["input_ids"])
    lm.logits(context, 1)
    dists, steps = [], []
    for _ in range(positions):  # greedy steps: each feeds one new token through the cache
        t0 = time.perf_counter()
        row = lm.logits(context, 1)[0]
        steps.append(time.perf_counter() - t0)
        dists.append(SamplingConfig().probs(row))  # temperature 1, as the decoders
        context = [*context, int(np.argmax(row))]
    step_ms = 1e3 * float(np.median(steps[1:]))
    drafts = [int(np.argmax(dists[-1]))] * VERIFY_DRAFTS

    def verify():
        lm.logits(context + drafts, VERIFY_DRAFTS + 1)
        lm.logits(context, 1)  # roll back, as after a rejection

    verify()  # first use of this input shape
    verify_ms = _median_ms(verify, repeats) - step_ms
    rows = [
        BenchRow(
            f"load {target}, first in process", loaded.seconds, "s", "none", float("nan"), "< 3 s"
        ),
        BenchRow(f"load {target} again (files only)", again, "s", "none", float("nan"), "< 3 s"),
        BenchRow(
            f"target step, {torch.get_num_threads()} threads",
            step_ms,
            "ms",
            "none",
            float("nan"),
            "-",
        ),
        BenchRow(
            f"verify pass, {VERIFY_DRAFTS} drafts",
            verify_ms,
            "ms",
            f"{VERIFY_DRAFTS + 1} one-token steps",
            (VERIFY_DRAFTS + 1) * step_ms / verify_ms,
            "-",
        ),
    ]
    for name, sampler in (("gumbel", gumbel_sample), ("wmh", wmh_sample)):
        sampler(dists[0], seed=seed, key=0)  # compile
        per_position = [
            _median_ms(partial(sampler, p, seed=seed, key=k), repeats) for k, p in enumerate(dists)
        ]
        ms = float(np.mean(per_position))
        rows.append(
            BenchRow(
                f"{name} sample per position (V={dists[0].size})",
                ms,
                "ms",
                "target step",
                step_ms / ms,
                f"< 5% of a step (here {100 * ms / step_ms:.1f}%)",
            )
        )
    return rows
