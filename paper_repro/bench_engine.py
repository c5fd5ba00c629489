"""``coupling bench --lm``, part two: the decoding engine against transformers, and under load.

* :func:`load_rows`: a verify pass of the target (4 drafts) idle and with a competing busy
  process that the bench starts itself, each in a fresh process (OpenMP reads its wait policy
  when torch loads): with OpenMP's default (spinning waiters) on every core, and with the
  command line's policy (passive waiters, the cores other processes leave free).
* :func:`anchor_rows`: one run, one target and drafter, ``new_tokens`` tokens, gamma 4:
  milliseconds per token of transformers' sampling, its assisted generation (the standard
  speculative decoding of the library), ``generate`` with :class:`~coupling.decoding.KeyedRace`
  with and without the assistant, :func:`~coupling.decoding.disd_generate` at batch 1 and
  batch 8, and the project's own single-sequence loop; the ratios the issue sets goals on.

Returns :class:`coupling.simulate.bench.BenchRow` rows; printing is the CLI's job. Every ratio
compares two measurements of this run on this machine.
"""

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
from coupling.decoding import CachedLM, SamplingConfig, run_method
from coupling.paper_repro.drafters import make_drafter
from coupling.paper_repro.experiments import PROMPTS
from coupling.paper_repro.model import encode_prompt, load_model, quiet_transformers
from coupling.simulate.bench import BenchRow
from coupling.simulate.validation import OPENMP_ENV, free_cores, usable_cores

__all__ = ["ANCHOR_DRAFTER", "anchor_rows", "load_rows", "verify_pass_ms"]

ANCHOR_DRAFTER = "q3g32"
#: Prompts of the batch (chat template): the experiments' three and five more, lengths differ.
BATCH_PROMPTS = (*PROMPTS, "Explain the birthday paradox.", "Why is the sky blue?",
                 "What is a hash function?", "Summarise the rules of chess in two sentences.",
                 "How do vaccines work?")  # fmt: skip
LOAD_GOAL = 2.5  # busy / idle verify pass, on 2 cores, with the command line's policy


def verify_pass_ms(target, threads, passes):
    """Median milliseconds of a verify pass (4 drafts, then a rollback) of ``target`` on
    ``threads`` torch threads (0: :func:`~coupling.simulate.validation.free_cores`), in this
    process. Returns (ms, threads used)."""
    import torch

    threads = threads or free_cores()
    torch.set_num_threads(threads)
    loaded = load_model(target)
    lm = CachedLM(loaded.model)
    context = encode_prompt(loaded.tokenizer, PROMPTS[0], chat=True)
    lm.logits(context, 1)
    drafts = [int(lm.logits(context, 1)[0].argmax())] * 4
    times = []
    for _ in range(passes + 1):
        start = time.perf_counter()
        lm.logits(context + drafts, 5)
        times.append(time.perf_counter() - start)
        lm.logits(context, 1)  # roll back, as after a rejection
    return 1e3 * float(np.median(times[1:])), threads


def _measure_in_child(target, policy, threads, passes):
    """``verify_pass_ms`` in a fresh process whose OpenMP settings are ``policy`` (a dict of
    environment variables; empty: OpenMP's defaults)."""
    env = {k: v for k, v in os.environ.items() if k not in OPENMP_ENV}
    env.update(policy)
    code = ("import json, sys; from coupling.paper_repro.bench_engine import verify_pass_ms; "
            f"print(json.dumps(verify_pass_ms({target!r}, {threads}, {passes})))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=1800)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


@contextmanager
def _busy_process():
    """A process that keeps one core busy for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it take its core before anything is measured
        yield
    finally:
        proc.kill()
        proc.wait()


def load_rows(target="smollm2", passes=6):
    """Verify-pass times idle and beside one busy process: with OpenMP's default policy on
    every core, with passive waiting alone on every core, and with the command line's
    settings (passive after a short spin, :data:`~coupling.simulate.validation.OPENMP_ENV`,
    on the cores free at the start); each ratio is busy / idle of the same settings."""
    cores = usable_cores()
    policies = {
        f"OpenMP default (spinning), {cores} threads": ({}, cores),
        f"passive, no spin, {cores} threads": ({"OMP_WAIT_POLICY": "PASSIVE"}, cores),
        "command line (passive after 3,000 spins, free cores)": (OPENMP_ENV, 0),
    }
    rows = []
    for label, (policy, threads) in policies.items():
        idle_ms, idle_threads = _measure_in_child(target, policy, threads, passes)
        with _busy_process():
            busy_ms, busy_threads = _measure_in_child(target, policy, threads, passes)
        goal = f"<= {LOAD_GOAL}x" if policy is OPENMP_ENV else "-"
        rows += [
            BenchRow(f"verify pass idle, {label}: {idle_threads} threads", idle_ms, "ms",
                     "none", float("nan"), "-"),
            BenchRow(f"verify pass beside a busy process, {label}: {busy_threads} threads",
                     busy_ms, "ms", "none", float("nan"), "-"),
            BenchRow(f"slowdown beside a busy process, {label}", busy_ms / idle_ms, "x",
                     "the idle pass", idle_ms / busy_ms, goal),
        ]  # fmt: skip
    return rows


@contextmanager
def _counted(model):
    """Count the forward passes of ``model`` inside the block, with a forward pre-hook:
    replacing ``forward`` would hide its signature, from which transformers decides to
    compute the output head on the last position only (``logits_to_keep``)."""
    calls = [0]

    def count(module, args):
        calls[0] += 1

    handle = model.register_forward_pre_hook(count)
    try:
        yield calls
    finally:
        handle.remove()


@contextmanager
def _generation_settings(settings):
    """``{model: {field: value}}`` set on each model's generation config inside the block,
    restored after it."""
    saved = {m: {k: getattr(m.generation_config, k, None) for k in s} for m, s in settings.items()}
    for model, fields in settings.items():
        for key, value in fields.items():
            setattr(model.generation_config, key, value)
    try:
        yield
    finally:
        for model, fields in saved.items():
            for key, value in fields.items():
                setattr(model.generation_config, key, value)


def _fixed_runs(model, draft_model, gamma):
    """Every row runs to ``new_tokens`` (no EOS), and transformers' assistant drafts exactly
    ``gamma`` tokens a round: its own generation config sets the draft length (20 and an
    adaptive schedule by default, whatever ``generate`` is given) and stops drafting early
    below a confidence threshold, both turned off here so every method drafts alike."""
    assistant = {"eos_token_id": None, "num_assistant_tokens": gamma,
                 "num_assistant_tokens_schedule": "constant",
                 "assistant_confidence_threshold": 0.0}  # fmt: skip
    return _generation_settings({model: {"eos_token_id": None}, draft_model: assistant})


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _batch(tokenizer, prompts, device):
    """The chat-templated prompts as a left-padded batch (ids, mask) on ``device``."""
    import torch

    rows = [encode_prompt(tokenizer, p, chat=True) for p in prompts]
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def anchor_rows(target="smollm2", drafter=ANCHOR_DRAFTER, *, new_tokens=64, gamma=4, batch=8,
                seed=0):  # fmt: skip
    """The engine against transformers' own generation, one run (see the module notes)."""
    import torch
    from coupling.decoding import KeyedRace, disd_generate

    loaded = load_model(target)
    loop_drafter = make_drafter(drafter, loaded)
    draft_model = loop_drafter.lm.model
    model = loaded.model
    device = model.get_output_embeddings().weight.device
    ids8, mask8 = _batch(loaded.tokenizer, BATCH_PROMPTS[:batch], device)
    ids1 = ids8[:1, mask8.shape[1] - int(mask8[0].sum()) :]
    # an explicit mask: without one, generate takes every pad id in the prompt for padding,
    # and SmolLM2's pad id is its end-of-turn token, which a chat prompt holds
    one = {"attention_mask": torch.ones_like(ids1)}
    sample = {"do_sample": True, "top_k": 0, "top_p": 1.0, "temperature": 1.0}
    assist = {"assistant_model": draft_model}
    runs = {
        "hf-sample-1": lambda: model.generate(ids1, **one, max_new_tokens=new_tokens, **sample),
        "hf-sample-b": lambda: model.generate(ids8, attention_mask=mask8,
                                              max_new_tokens=new_tokens, **sample),
        "hf-assisted": lambda: model.generate(ids1, **one, max_new_tokens=new_tokens, **sample,
                                              **assist),
        "hf-race": lambda: model.generate(ids1, **one, max_new_tokens=new_tokens, do_sample=False,
                                          logits_processor=[KeyedRace(seed=seed)]),
        "hf-race-assisted": lambda: model.generate(ids1, **one, max_new_tokens=new_tokens,
                                                   do_sample=False, **assist,
                                                   logits_processor=[KeyedRace(seed=seed)]),
        "disd-1": lambda: disd_generate(model, draft_model, ids1, seed=seed, gamma=gamma,
                                        max_new_tokens=new_tokens),
        "disd-b": lambda: disd_generate(model, draft_model, ids8, attention_mask=mask8,
                                        seed=seed, gamma=gamma, max_new_tokens=new_tokens),
        "loop": lambda: run_method("disd-gumbel", CachedLM(model), loop_drafter,
                                   ids1[0].tolist(), seed=seed,
                                   gamma=gamma, max_new_tokens=new_tokens,
                                   sampling=SamplingConfig()),
    }  # fmt: skip
    seconds, calls = {}, {}
    with _fixed_runs(model, draft_model, gamma), quiet_transformers():
        model.generate(ids1, **one, max_new_tokens=2, **sample)  # first use of the code paths
        for name, run in runs.items():
            with _counted(model) as count:
                _, seconds[name] = _timed(run)
            calls[name] = count[0]
    ms_token = {k: 1e3 * s / new_tokens for k, s in seconds.items()}
    ms_call = {k: 1e3 * seconds[k] / calls[k] for k in seconds}
    hf_ratio = seconds["hf-sample-1"] * batch / seconds["hf-sample-b"]
    disd_ratio = seconds["disd-1"] * batch / seconds["disd-b"]
    label = f"{new_tokens} tokens, gamma {gamma}, drafter {drafter}"
    rows = [
        BenchRow(f"HF sampling, batch 1 ({label})", ms_token["hf-sample-1"], "ms/token",
                 "none", float("nan"), "-"),
        BenchRow(f"HF sampling, batch {batch}", 1e3 * seconds["hf-sample-b"] /
                 (batch * new_tokens), "ms/token", "HF sampling, batch 1",
                 hf_ratio, "-"),
        BenchRow("HF assisted generation (SD), batch 1", ms_token["hf-assisted"], "ms/token",
                 "HF sampling, batch 1", ms_token["hf-sample-1"] / ms_token["hf-assisted"],
                 "-"),
        BenchRow("HF generate + KeyedRace, batch 1", ms_token["hf-race"], "ms/token",
                 "HF sampling, batch 1", ms_token["hf-sample-1"] / ms_token["hf-race"], "-"),
        BenchRow("HF assisted generation + KeyedRace (DISD in transformers)",
                 ms_token["hf-race-assisted"], "ms/token", "HF assisted generation",
                 ms_token["hf-assisted"] / ms_token["hf-race-assisted"], "-"),
        BenchRow("disd_generate, batch 1", ms_token["disd-1"], "ms/token",
                 "HF assisted generation", ms_token["hf-assisted"] / ms_token["disd-1"], "-"),
        BenchRow("disd_generate, batch 1, per target call", ms_call["disd-1"], "ms/call",
                 f"HF assisted generation ({ms_call['hf-assisted']:.1f} ms/call)",
                 ms_call["hf-assisted"] / ms_call["disd-1"], ">= 1x"),
        BenchRow(f"disd_generate, batch {batch}", 1e3 * seconds["disd-b"] /
                 (batch * new_tokens), "ms/token", "disd_generate, batch 1", disd_ratio, "-"),
        BenchRow(f"disd_generate batch-{batch}/batch-1 throughput", disd_ratio, "x",
                 f"HF sampling's ratio ({hf_ratio:.2f}x)", disd_ratio / hf_ratio, ">= 0.9x"),
        BenchRow("the project's loop (paper_repro), batch 1", ms_token["loop"], "ms/token",
                 "HF assisted generation", ms_token["hf-assisted"] / ms_token["loop"], "-"),
        BenchRow("the project's loop, per target call", ms_call["loop"], "ms/call",
                 "HF assisted generation", ms_call["hf-assisted"] / ms_call["loop"], "-"),
    ]  # fmt: skip
    return rows
