"""Costs on the real model for ``coupling bench --lm``: a target step, verify passes, and the
samplers' cost per verify block against the pass, all measured in the same run.

Returns :class:`coupling.simulate.bench.BenchRow` rows; printing is the CLI's job.
"""

import time

import numpy as np
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.model import load_model
from coupling.simulate import gumbel_sample, sample_pairs, wmh_sample
from coupling.simulate.bench import BenchRow

__all__ = ["GAMMAS", "device_block_benchmarks", "lm_benchmarks"]

PROMPT = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'
GAMMAS = (4, 8)  # drafts per verify pass: blocks of gamma + 1 target distributions
SAMPLERS = {"gumbel": gumbel_sample, "wmh": wmh_sample}
DEVICE_BLOCK = (9, 256_000)  # a verify block at Gemma-2's vocabulary
DEVICE_TARGETS = {"gumbel": 0.1, "wmh": 0.5}  # ms per block on an accelerator


def _median_ms(fn, repeats, sync=lambda: None):
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def _block_rows(blocks, pass_ms, repeats, seed, label):
    """One row per (coupling, gamma, backend): a verify block's samples in one call, numba on a
    host array, torch on a tensor, as a share of the verify pass of the same size."""
    import torch

    rows = []
    for name, sampler in SAMPLERS.items():
        for gamma, block in blocks.items():
            keys = np.arange(gamma + 1)
            inputs = {"numba": (block, keys), "torch": (torch.from_numpy(block),
                                                        torch.from_numpy(keys))}  # fmt: skip
            for backend, (p, k) in inputs.items():
                sampler(p, seed=seed, key=k)  # compile, first use
                ms = _median_ms(lambda s=sampler, p=p, k=k: s(p, seed=seed, key=k), repeats)
                rows.append(
                    BenchRow(
                        f"{name} block, gamma={gamma}, {backend} on cpu ({label})",
                        ms,
                        "ms",
                        f"verify pass of {gamma + 1} positions ({pass_ms[gamma]:.1f} ms)",
                        pass_ms[gamma] / ms,
                        f"< 5% of the pass (here {100 * ms / pass_ms[gamma]:.1f}%)",
                    )
                )
    return rows


def _single_draw_rows(p, q, repeats, seed):
    """One draw from ``p`` as a decoder makes it (one party, a Python int key) against the
    faithful engine's draw of both parties' samples from (p, q) with the same key."""
    rows = []
    for name, sampler in SAMPLERS.items():
        sampler(p, seed=seed, key=0)  # compile, first use
        sample_pairs(p, q, name, seed=seed, key=0, engine="faithful")
        one = _median_ms(lambda s=sampler: s(p, seed=seed, key=7), repeats)
        two = _median_ms(lambda n=name: sample_pairs(p, q, n, seed=seed, key=7,
                                                     engine="faithful"), repeats)  # fmt: skip
        rows.append(
            BenchRow(
                f"one {name} draw, V={p.size}, numba",
                one,
                "ms",
                f"both parties' draws, faithful engine ({two:.2f} ms)",
                two / one,
                "<= 0.25 ms" if name == "gumbel" else "-",
            )
        )
    return rows


def device_block_benchmarks(device="cuda", *, shape=None, repeats=20, seed=0):
    """The samplers on one verify block (float64, ``shape`` rows x V, by default 9 rows at
    V = 256,000) on ``device``, against copying the same data on the device (the memory
    floor), in the same run.

    Targets at the default shape: 0.1 ms (Gumbel) and 0.5 ms (WMH) per block on an
    accelerator.
    """
    import torch

    dev = torch.device(device)
    shape = tuple(shape or DEVICE_BLOCK)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    gen = torch.Generator(device=dev).manual_seed(seed)
    z = 3.0 * torch.randn(shape, generator=gen, device=dev, dtype=torch.float64)
    block = torch.softmax(z, dim=1)
    keys = torch.arange(shape[0], device=dev)
    copy_ms = _median_ms(lambda: block.clone(), repeats, sync)
    rows = []
    for name, sampler in SAMPLERS.items():
        sampler(block, seed=seed, key=keys)  # first use
        ms = _median_ms(lambda s=sampler: s(block, seed=seed, key=keys), repeats, sync)
        rows.append(
            BenchRow(
                f"{name} block of {shape[0]} rows, V={shape[1]}, torch on {dev}",
                ms,
                "ms",
                f"copying the block on the device ({copy_ms:.3f} ms)",
                copy_ms / ms,
                f"<= {DEVICE_TARGETS[name]} ms" if shape == DEVICE_BLOCK else "-",
            )
        )
    return rows


def lm_benchmarks(*, target="smollm2", positions=16, repeats=5, seed=0):
    """Load time (cached files: first in the process, which pays transformers' lazy module
    imports, and again), ms per one-token step and per verify pass of gamma + 1 positions, and
    the Gumbel and WMH samplers' cost per verify block (both backends) as a share of that pass;
    with CUDA present, also :func:`device_block_benchmarks`.

    ``positions`` real next-token distributions of the target, from greedy steps after a
    fixed code prompt, make the blocks (temperature 1, as the decoders).
    """
    import torch

    loaded = load_model(target)  # in a fresh process this pays transformers' lazy imports
    again = load_model(target).seconds  # the files alone
    lm = CachedLM(loaded.model)
    context = list(loaded.tokenizer(PROMPT)["input_ids"])
    lm.logits(context, 1)
    dists, steps = [], []
    for _ in range(max(positions, max(GAMMAS) + 1)):  # greedy steps through the cache
        t0 = time.perf_counter()
        row = lm.logits(context, 1)[0]
        steps.append(time.perf_counter() - t0)
        dists.append(SamplingConfig().probs(row.numpy()))
        context = [*context, int(np.argmax(dists[-1]))]
    step_ms = 1e3 * float(np.median(steps[1:]))
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
    ]
    pass_ms = {}
    for gamma in GAMMAS:
        drafts = [int(np.argmax(dists[-1]))] * gamma

        def verify(drafts=drafts):
            lm.logits(context + drafts, len(drafts) + 1)
            lm.logits(context, 1)  # roll back, as after a rejection

        verify()  # first use of this input shape
        pass_ms[gamma] = _median_ms(verify, repeats) - step_ms
        rows.append(
            BenchRow(
                f"verify pass, {gamma} drafts",
                pass_ms[gamma],
                "ms",
                f"{gamma + 1} one-token steps",
                (gamma + 1) * step_ms / pass_ms[gamma],
                "-",
            )
        )
    rows += _single_draw_rows(dists[0], dists[1], repeats * 20, seed)
    blocks = {g: np.ascontiguousarray(np.stack(dists[: g + 1])) for g in GAMMAS}
    label = f"V={blocks[GAMMAS[0]].shape[1]}, {torch.get_num_threads()} torch threads"
    rows += _block_rows(blocks, pass_ms, repeats, seed, label)
    if torch.cuda.is_available():
        rows += device_block_benchmarks("cuda", seed=seed)
    return rows
