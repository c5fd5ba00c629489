"""Issue 22, the language model's limits, as the command line meets them: seeds out of range
(item 3), prompts beyond the model's context and KV caches beyond memory (item 4), more threads
than cores (item 5), models not available offline (item 6, the loading half) and flags that
cannot both hold (item 13, decode). Each case: the exit status, the one-line message, and for
a refusal that no weights were loaded (nor, where the refusal needs no model at all, any
model file opened).

The logic runs on tiny random models saved with a local word tokenizer (tests/lm_fixtures.py);
the SmolLM2 cases, marked ``model``, read its config and tokenizer only.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numba
import pytest
from coupling.decoding.limits import (
    check_context,
    check_kv_memory,
    context_limit,
    kv_cache_bytes,
)
from coupling.paper_repro import drafters as lm_drafters
from coupling.paper_repro import model as lm_model
from lm_fixtures import one_torch_thread, save_model, tiny_gemma2, tiny_llama, torch, transformers

from coupling._args import SEED_MAX, thread_count
from coupling.cli import main

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)

ROOT = Path(__file__).resolve().parents[1]
#: The tiny target's context (tests/lm_fixtures.py: max_position_embeddings of tiny_llama).
CONTEXT = 128
#: A generous bound on a refusal that must come "in seconds" (it takes well under one here;
#: the bound only catches the minute of retries it replaced).
FAST_FAIL_SECONDS = 20


def refused(capsys, argv, message, *, exact=True):
    """Run ``coupling argv``: exit 2, one line on stderr, ``message`` all of it after the
    command's prefix (or in it, ``exact=False``), nothing on stdout; returns the line."""
    rc = main(argv)
    captured = capsys.readouterr()
    err = captured.err.strip()
    prefix = f"coupling {argv[0]}: error: "
    assert rc == 2, (rc, captured.err)
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(prefix), err
    assert err == prefix + message if exact else message in err, err
    assert captured.out == ""
    return err


def words(count):
    """A prompt of ``count`` tokens for the word tokenizer (its BOS token and count - 1
    words)."""
    return " ".join(["What"] * (count - 1))


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """A saved two-layer tiny Llama taking CONTEXT positions."""
    model = tiny_llama(0, layers=2)
    assert model.config.max_position_embeddings == CONTEXT
    return save_model(model, tmp_path_factory.mktemp("target"))


@pytest.fixture(scope="module")
def short_drafter(tmp_path_factory):
    """A drafter sharing the target's vocabulary but taking only 64 positions."""
    model = tiny_llama(1, layers=2)
    model.config.max_position_embeddings = 64
    return save_model(model, tmp_path_factory.mktemp("short"))


# drafters binds model's functions at its import: imported above, it holds the real ones
assert lm_drafters.open_model is lm_model.open_model


def _refuse_weights(*args, **kwargs):
    raise AssertionError("a model's weights were loaded")


@pytest.fixture
def no_weight_files(monkeypatch):
    """Fail the test if transformers reads any model's weights."""
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", _refuse_weights)


@pytest.fixture
def no_weights(no_weight_files, monkeypatch):
    """... nor is load_model called at all (the command's refusal comes before it)."""
    monkeypatch.setattr(lm_model, "load_model", _refuse_weights)


@pytest.fixture
def nothing_opened(no_weights, monkeypatch):
    """Fail the test if any model is opened at all (its config or tokenizer read)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a model was opened")

    monkeypatch.setattr(lm_model, "open_model", refuse, raising=False)


# --- item 3: --seed out of range, refused before loading, for every LM command -------------

SEED_MESSAGES = {-1: "--seed must be >= 0, got -1",
                 2**64: f"--seed must be <= {SEED_MAX}, got {2**64}"}  # fmt: skip
SEED_COMMANDS = [
    ["decode", "--prompt", "hi", "--method", "autoregressive"],
    ["decode", "--prompt", "hi", "--method", "sd", "--drafter", "temp0.8"],
    ["decode", "--prompt", "hi", "--method", "disd-gumbel", "--drafter", "temp0.8"],
    ["decode", "--prompt", "hi", "--method", "disd-wmh", "--drafter", "temp0.8"],
    ["decode", "--prompt", "hi", "--method", "mdisd-strong", "--drafter", "temp0.8",
     "--drafts", "2"],
    ["decode", "--prompt", "hi", "--method", "mdisd-conditional", "--drafter", "temp0.8",
     "--drafts", "2"],
    ["decode", "--prompt", "hi", "--method", "autoregressive", "--coupling", "gls",
     "--drafts", "2"],
    ["repro", "coupling"],
    ["reproduce"],
    ["distill"],
]  # fmt: skip


@pytest.mark.parametrize("seed", sorted(SEED_MESSAGES))
@pytest.mark.parametrize("argv", SEED_COMMANDS, ids=" ".join)
def test_seed_out_of_range_is_refused_before_loading(argv, seed, capsys, nothing_opened,
                                                     tmp_path):  # fmt: skip
    """decode ended in a traceback (exit 1) after the model load; repro and reproduce
    accepted 2**64 and failed after loading; distill named no flag."""
    out = tmp_path / "out"
    extra = [] if argv[0] == "decode" else ["--out", str(out)]
    refused(capsys, [*argv, "--seed", str(seed), *extra], SEED_MESSAGES[seed])
    assert not out.exists()


def test_largest_seed_decodes(target, capsys):
    """The refusal's boundary: SEED_MAX = 2**64 - 1 is a seed like any other."""
    argv = ["decode", "--prompt", words(4), "--method", "autoregressive", "--target", target,
            "--max-new-tokens", "2", "--seed", str(SEED_MAX), "--json"]  # fmt: skip
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["seed"] == SEED_MAX and len(got["token_ids"]) == 2


# --- item 4: the model's context and the KV cache's memory ----------------------------------


def _real_cache_bytes(model, tokens, batch, windowed=True):
    """Bytes of the keys and values in a DynamicCache after one pass of ``tokens`` tokens:
    transformers' own (from the config: windowed layers), or the engine's (every token)."""
    from coupling.decoding.compat import forward, new_cache

    cache = transformers.DynamicCache(config=model.config) if windowed else new_cache(model)
    ids = torch.zeros((batch, tokens), dtype=torch.long)
    with torch.inference_mode():
        forward(model, ids, cache)
    return sum(t.numel() * t.element_size()
               for layer in cache.layers for t in (layer.keys, layer.values))  # fmt: skip


def tiny_gpt2():
    """GPT-2 names neither head_dim nor num_key_value_heads (n_embd / n_head, one per head)."""
    cfg = transformers.GPT2Config(vocab_size=24, n_positions=96, n_embd=32, n_layer=3, n_head=4)
    return transformers.GPT2LMHeadModel(cfg).eval()


def tiny_mistral():
    """A sliding window on every layer, and no layer kinds named (Mistral's config)."""
    cfg = transformers.MistralConfig(vocab_size=24, hidden_size=32, intermediate_size=64,
                                     num_hidden_layers=2, num_attention_heads=4,
                                     num_key_value_heads=1, sliding_window=16,
                                     max_position_embeddings=128)  # fmt: skip
    return transformers.MistralForCausalLM(cfg).eval()


@pytest.mark.parametrize("make", [lambda: tiny_llama(0, layers=2), lambda: tiny_gemma2(0),
                                  tiny_gpt2, tiny_mistral],
                         ids=["llama-float64", "gemma2-window64", "gpt2", "mistral-window16"])
def test_kv_cache_bytes_are_the_cache_tensors(make):
    """The formula against the tensors transformers allocates, below, at and beyond each
    sliding window (Gemma-2 windows every other layer, Mistral every layer)."""
    model = make()
    dtype = next(model.parameters()).dtype
    for tokens in (1, 15, 16, 17, 63, 64, 65, 90):
        for batch in (1, 3):
            want = _real_cache_bytes(model, tokens, batch)
            assert kv_cache_bytes(model.config, tokens, batch=batch, dtype=dtype) == want
            assert kv_cache_bytes(model.config, tokens, batch=batch,
                                  dtype=str(dtype).removeprefix("torch.")) == want  # fmt: skip
            whole = _real_cache_bytes(model, tokens, batch, windowed=False)
            assert kv_cache_bytes(model.config, tokens, batch=batch, dtype=dtype,
                                  windowed=False) == whole >= want  # fmt: skip


def test_kv_cache_bytes_of_smollm2_and_gemma2_27b_configs():
    """Closed forms from the published configs: layers x 2 x kv heads x head_dim x tokens x
    bytes (Gemma-2 27B: 46 layers, 16 KV heads of 128, a 4,096 window on every other layer)."""
    smol = transformers.LlamaConfig(num_hidden_layers=30, hidden_size=576,
                                    num_attention_heads=9, num_key_value_heads=3)  # fmt: skip
    assert kv_cache_bytes(smol, 8192, dtype=torch.float32) == 30 * 2 * 3 * 64 * 8192 * 4
    gemma = transformers.Gemma2Config(num_hidden_layers=46, num_attention_heads=32,
                                      num_key_value_heads=16, head_dim=128, hidden_size=4608,
                                      sliding_window=4096)  # fmt: skip
    assert context_limit(gemma) == 8192
    per_token = 2 * 16 * 128 * 2  # keys and values, bfloat16
    assert kv_cache_bytes(gemma, 8192, batch=2, dtype="bfloat16") == \
        23 * (8192 + 4095) * per_token * 2  # fmt: skip
    with pytest.raises(ValueError, match="unknown torch dtype 'float8'"):
        kv_cache_bytes(smol, 1, dtype="float8")
    with pytest.raises(ValueError, match="no usable num_hidden_layers"):
        kv_cache_bytes(SimpleNamespace(num_attention_heads=4), 1, dtype="float32")


def test_context_limit_and_check_context():
    assert context_limit(tiny_gemma2(0).config) == 256
    assert context_limit(transformers.GPT2Config(n_positions=96)) == 96  # the attribute map
    assert context_limit(SimpleNamespace()) is None
    llama = tiny_llama(0, layers=1).config
    assert check_context(llama, CONTEXT - 5, 5) == CONTEXT  # exactly full: allowed
    with pytest.raises(ValueError) as info:
        check_context(llama, CONTEXT - 5, 6, batch=4)
    assert str(info.value) == (
        f"a prompt of {CONTEXT - 5} tokens and 6 new tokens need {CONTEXT + 1} positions (in "
        f"each of 4 rows); the model takes at most {CONTEXT} (max_position_embeddings in its "
        "config)"
    )
    assert check_context(SimpleNamespace(), 10**6, 10**6) == 2 * 10**6  # no limit named
    with pytest.raises(ValueError, match="max_new_tokens must be >= 1"):
        check_context(llama, 3, 0)


def test_kv_memory_on_a_gpu_reads_its_free_memory(monkeypatch):
    """On CUDA the check reads the device's free memory (every GPU's for "auto"), not the
    host's."""
    free = {0: 3 * 2**30, 1: 2**30}

    def mem_get_info(device):
        index = device if isinstance(device, int) else device.index or 0
        return free[index], 8 * 2**30

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", mem_get_info)
    check_kv_memory(3 * 2**30, "cuda:0")
    with pytest.raises(ValueError) as info:
        check_kv_memory(3 * 2**30, "cuda:1", "a KV cache")
    assert str(info.value) == "a KV cache needs about 3.00 GiB; device 'cuda:1' has 1.00 GiB free"
    check_kv_memory(4 * 2**30, "auto")
    with pytest.raises(ValueError, match=r"device 'auto' has 4\.00 GiB free"):
        check_kv_memory(4 * 2**30 + 1, "auto")


def _decode(target, prompt_tokens, new, *extra):
    return ["decode", "--prompt", words(prompt_tokens), "--target", target,
            "--max-new-tokens", str(new), *extra]  # fmt: skip


def test_prompt_beyond_the_context_is_refused_before_loading(target, capsys, no_weights):
    """An 8,185-token prompt with 12 new tokens ran to exit 0 on SmolLM2's 8,192 positions;
    on the tiny target: a prompt of CONTEXT - 8 tokens and 9 new ones."""
    msg = (f"--target {target}: a prompt of {CONTEXT - 8} tokens and 9 new tokens need "
           f"{CONTEXT + 1} positions; the model takes at most {CONTEXT} "
           "(max_position_embeddings in its config); shorten --prompt or lower "
           "--max-new-tokens")  # fmt: skip
    for method in (["--method", "autoregressive"], ["--method", "sd", "--drafter", "temp0.8"],
                   ["--method", "mdisd-strong", "--drafter", "temp0.8", "--drafts", "2"]):
        refused(capsys, _decode(target, CONTEXT - 8, 9, *method), msg)
    refused(capsys, _decode(target, 3, 10**7, "--method", "autoregressive"),
            f"--max-new-tokens 10,000,000 leaves no room for the prompt: the target takes at "
            f"most {CONTEXT} positions (max_position_embeddings in its config)")  # fmt: skip
    refused(capsys, _decode(target, 3, CONTEXT, "--method", "autoregressive"),
            "leaves no room for the prompt", exact=False)  # fmt: skip
    chat = ["--method", "autoregressive", "--chat"]  # the template's tokens count too:
    # "user : <the 119 words> assistant :" is 123 tokens (no BOS in the template)
    refused(capsys, _decode(target, CONTEXT - 8, 8, *chat),
            "a prompt of 123 tokens and 8 new tokens need 131 positions", exact=False)


def test_prompt_that_fills_the_context_exactly_decodes(target, capsys):
    """The boundary: prompt + new tokens = the context runs and gives every token."""
    assert main([*_decode(target, CONTEXT - 8, 8, "--method", "autoregressive"), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["prompt_tokens"] == CONTEXT - 8 and len(got["token_ids"]) == 8


def test_drafter_context_is_checked_too(target, short_drafter, capsys, no_weights):
    """An hf: drafter with a shorter context than the target's is refused by name."""
    argv = _decode(target, 60, 5, "--method", "disd-gumbel", "--drafter", f"hf:{short_drafter}")
    refused(capsys, argv, f"--drafter hf:{short_drafter}: a prompt of 60 tokens and 5 new tokens "
                          "need 65 positions; the model takes at most 64", exact=False)  # fmt: skip


def test_kv_cache_beyond_memory_is_refused_before_loading(target, capsys, no_weights,
                                                          monkeypatch):  # fmt: skip
    """The KV caches of target (K rows for multi-draft) and drafter against the memory
    check; the bytes asked for are the formula's, which the tests above tie to the tensors."""
    from coupling.decoding import limits

    asked = []

    def check_memory(needed, what):
        asked.append(needed)
        raise ValueError(f"{what} needs about {needed:,} bytes of memory; this machine has 0")

    monkeypatch.setattr(limits, "check_memory", check_memory)
    config = transformers.AutoConfig.from_pretrained(target)
    cases = {("--method", "autoregressive"): 1, ("--method", "sd", "--drafter", "exit8"): 2,
             ("--method", "mdisd-conditional", "--drafter", "q3g32", "--drafts", "3"): 4}
    for method, rows in cases.items():
        positions = 20 + 7
        want = kv_cache_bytes(config, positions, batch=rows, dtype="float32")
        refused(capsys, _decode(target, 20, 7, *method),
                f"decoding 27 positions (the KV caches) needs about {want:,} bytes of memory; "
                "this machine has 0")  # fmt: skip
        assert asked.pop() == want


def test_distill_chunks_beyond_the_context_are_refused_before_training(target, capsys,
                                                                        monkeypatch, tmp_path):
    """distill's --seq-len is bounded by the target's context as soon as its config is read."""
    from coupling.paper_repro import distill

    def train(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(distill, "train_adapters", train)
    argv = ["distill", "--target", target, "--depths", "1", "--out", str(tmp_path / "a")]
    refused(capsys, [*argv, "--seq-len", str(CONTEXT + 1)],
            f"--seq-len {CONTEXT + 1} is beyond the target's context of {CONTEXT} positions "
            "(max_position_embeddings in its config)")  # fmt: skip
    with pytest.raises(AssertionError, match="training started"):
        main([*argv, "--seq-len", str(CONTEXT)])


@pytest.mark.model
@pytest.mark.parametrize(("words", "new"), [(" the" * 8185, 12), (" word" * 12_000, 32)],
                         ids=["8185+12", "12000-words"])  # fmt: skip
def test_smollm2_context_is_refused_before_loading(words, new, capsys, no_weights):
    """The issue's cases on the real target: refused from its config and tokenizer alone (a
    12,000-word prompt ran for over a minute). The prompt's length is the tokenizer's (one
    token per word, plus a BOS where the installed transformers' tokenizer adds one)."""
    from coupling.paper_repro.model import open_model

    tokens = len(open_model("smollm2").tokenizer(words).input_ids)
    assert tokens in (len(words.split()), len(words.split()) + 1)
    argv = ["decode", "--prompt", words, "--method", "sd", "--drafter", "exit16",
            "--max-new-tokens", str(new)]  # fmt: skip
    refused(capsys, argv, f"--target smollm2: a prompt of {tokens:,} tokens and {new} new "
            f"tokens need {tokens + new:,} positions; the model takes at most 8,192",
            exact=False)  # fmt: skip


@pytest.mark.model
def test_smollm2_max_new_tokens_beyond_the_context_is_refused(capsys, no_weights):
    argv = ["decode", "--prompt", "hi", "--method", "sd", "--drafter", "exit16",
            "--max-new-tokens", str(10**7)]  # fmt: skip
    refused(capsys, argv, "--max-new-tokens 10,000,000 leaves no room for the prompt: the "
            "target takes at most 8,192 positions", exact=False)  # fmt: skip


# --- item 5: --threads beyond the cores, one check for every command ------------------------

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
THREAD_COMMANDS = [
    ["simulate"], ["bench"], ["bench", "--lm"], ["decode", "--prompt", "hi", "--method",
    "autoregressive"], ["drafters"],
    ["drafters", "--no-measure"], ["distill"], ["repro"], ["reproduce"],
]  # fmt: skip


@pytest.fixture
def no_benchmarks(monkeypatch):
    from coupling.paper_repro import bench as lm_bench
    from coupling.simulate import bench

    def refuse(*args, **kwargs):
        raise AssertionError("the benchmarks ran")

    monkeypatch.setattr(bench, "run_benchmarks", refuse)
    monkeypatch.setattr(lm_bench, "lm_benchmarks", refuse)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < CORES, reason="NUMBA_NUM_THREADS is set")
@pytest.mark.parametrize("threads", [CORES + 1, 1000])
@pytest.mark.parametrize("argv", THREAD_COMMANDS, ids=" ".join)
def test_more_threads_than_cores_are_refused(argv, threads, capsys, nothing_opened,
                                             no_benchmarks, tmp_path):  # fmt: skip
    """`bench --lm --threads 1000` ran for minutes on 1,000 threads."""
    extra = ["--out", str(tmp_path / "out")] if argv[0] in ("repro", "reproduce") else []
    refused(capsys, [*argv, "--threads", str(threads), *extra],
            f"--threads must be <= {CORES}, the cores of this machine; got {threads} "
            "(0: the cores free now)")  # fmt: skip


def test_thread_count_bounds(monkeypatch):
    """Every core is allowed, and 0; numba's pool bounds it where NUMBA_NUM_THREADS is set
    below the cores."""
    from coupling import _args
    from coupling._output import CommandError

    assert thread_count(0) == 0
    monkeypatch.setattr(_args, "usable_cores", lambda: 4)
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 8)
    assert thread_count(4) == 4
    monkeypatch.setattr(numba.config, "NUMBA_NUM_THREADS", 2)
    with pytest.raises(CommandError) as info:
        thread_count(3)
    assert str(info.value) == ("--threads must be <= 2, numba's thread pool "
                               "(NUMBA_NUM_THREADS); got 3 (0: the cores free now)")  # fmt: skip
    with pytest.raises(CommandError, match="--threads must be >= 0, got -1"):
        thread_count(-1)


# --- item 6: a hub model not available offline ----------------------------------------------


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache (as HF_HOME pointing at an empty directory would give)."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def offline(empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return empty_hub_cache


def _missing(repo, cache):
    return (f"model {repo!r} is not available offline: the Hugging Face cache ({cache}) holds no "
            "complete copy of it and HF_HUB_OFFLINE is set; fetch it with "
            f"`hf download {repo}` where the hub is reachable (into the same HF_HOME), or pass "
            "a local directory")  # fmt: skip


def test_hf_drafter_not_cached_offline_fails_in_seconds(target, capsys, offline, no_weights):
    """`--drafter hf:org/name` took 52 s and ten retry lines before a two-line error; now one
    line before any weights (the target's included) are loaded."""
    start = time.perf_counter()
    refused(capsys, _decode(target, 4, 2, "--method", "sd", "--drafter", "hf:org/name"),
            _missing("org/name", offline))  # fmt: skip
    assert time.perf_counter() - start < FAST_FAIL_SECONDS


def test_preset_gemma2_not_cached_offline_fails_in_seconds(capsys, offline, no_weight_files,
                                                           tmp_path):  # fmt: skip
    """`repro --preset gemma2` took 52 s and ten retry lines; its target is opened inside
    load_model, which refuses before reading any weights."""
    start = time.perf_counter()
    refused(capsys, ["repro", "coupling", "--preset", "gemma2", "--out", str(tmp_path / "r")],
            _missing("google/gemma-2-27b-it", offline))  # fmt: skip
    assert time.perf_counter() - start < FAST_FAIL_SECONDS


def test_unreachable_hub_is_tried_once(target, capsys, empty_hub_cache, no_weights,
                                       monkeypatch):  # fmt: skip
    """Not cached and not offline: one request, no retries, one line."""
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    calls = []

    def unreachable(url, timeout=None, **kwargs):
        calls.append((url, timeout))
        raise ConnectionError("[Errno -2] Name or service not known")

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", unreachable)
    refused(capsys, _decode(target, 4, 2, "--method", "sd", "--drafter", "hf:org/name"),
            f"model 'org/name' is not available offline: the Hugging Face cache "
            f"({empty_hub_cache}) holds no complete copy of it, and the hub "
            f"({constants.ENDPOINT}) could not be reached (one try, "
            f"{constants.HF_HUB_ETAG_TIMEOUT} s timeout: ConnectionError: [Errno -2] Name or "
            "service not known); fetch it with `hf download org/name` where the hub is "
            "reachable (into the same HF_HOME), or pass a local directory")  # fmt: skip
    assert len(calls) == 1 and calls[0][0].endswith("/org/name/resolve/main/config.json")

    class Missing(huggingface_hub.errors.RepositoryNotFoundError):
        def __init__(self):
            Exception.__init__(self, "401")

    def not_there(url, timeout=None, **kwargs):
        raise Missing()

    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", not_there)
    refused(capsys, _decode(target, 4, 2, "--method", "sd", "--drafter", "hf:org/name"),
            "the Hugging Face hub gives no model 'org/name' (Missing: it does not exist, or it "
            "is gated or private: log in with `hf auth login`)")  # fmt: skip


def _cache_snapshot(cache, repo, source, *, weights=True):
    """Put the files of ``source`` in the HF cache layout as the snapshot of ``repo``."""
    import shutil

    commit = "0" * 40
    root = Path(cache) / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    shutil.copytree(source, snapshot)
    if not weights:
        (snapshot / "model.safetensors").unlink()
    return snapshot


def test_cached_hub_model_loads_offline(target, capsys, offline, tmp_path):
    """A hub id held whole in the local cache loads from it with the hub off limits, and
    decodes exactly as the same files given by path; a snapshot lacking its weights counts
    as not available."""
    drafter = save_model(tiny_llama(1, layers=2), tmp_path / "drafter")
    snapshot = _cache_snapshot(offline, "org/tiny", drafter)
    assert lm_model.open_model("org/tiny").source == str(snapshot)
    runs = []
    for name in ("hf:org/tiny", f"hf:{drafter}"):
        argv = _decode(target, 5, 6, "--method", "disd-gumbel", "--drafter", name, "--json")
        assert main(argv) == 0
        got = json.loads(capsys.readouterr().out)
        runs.append((got["token_ids"], got["stats"]["drafted"], got["stats"]["accepted"]))
    assert runs[0] == runs[1]
    _cache_snapshot(offline, "org/partial", drafter, weights=False)
    with pytest.raises(ValueError) as info:
        lm_model.load_model("org/partial")
    assert str(info.value) == _missing("org/partial", offline)


def test_offline_refusal_from_a_fresh_process(target, tmp_path):
    """The command as a user runs it: HF_HOME at an empty directory and HF_HUB_OFFLINE=1, read
    by huggingface_hub at import; no network needed."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1",
           "OMP_WAIT_POLICY": "PASSIVE"}  # fmt: skip
    argv = [sys.executable, "-m", "coupling", *_decode(target, 4, 2, "--method", "sd",
                                                       "--drafter", "hf:org/name")]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    cache = tmp_path / "hf" / "hub"
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == "coupling decode: error: " + _missing("org/name", cache)
    assert proc.stdout == ""


# --- item 13: decode flags that cannot both hold --------------------------------------------

COUPLING_SUFFIX = "--coupling chooses the sampler of --method autoregressive only"


@pytest.mark.parametrize(("argv", "message"), [
    (["--method", "autoregressive", "--greedy", "--temperature", "0.7"],
     "--greedy and --temperature 0.7 cannot both hold: --greedy takes the argmax, which no "
     "--temperature changes; drop one of them"),
    (["--method", "autoregressive", "--greedy", "--top-k", "5"],
     "--greedy and --top-k 5 cannot both hold: --greedy takes the argmax, which no --top-k "
     "changes; drop one of them"),
    (["--method", "autoregressive", "--greedy", "--top-p", "0.9"],
     "--greedy and --top-p 0.9 cannot both hold: --greedy takes the argmax, which no --top-p "
     "changes; drop one of them"),
    (["--method", "sd", "--drafter", "exit8", "--coupling", "wmh"],
     "--coupling wmh and --method sd cannot both hold: standard SD samples with its own ratio "
     f"test and residual; {COUPLING_SUFFIX}"),
    (["--method", "disd-wmh", "--drafter", "exit8", "--coupling", "gumbel"],
     "--coupling gumbel and --method disd-wmh cannot both hold: disd-wmh names its coupling "
     f"(wmh); {COUPLING_SUFFIX}"),
    (["--method", "disd-gumbel", "--drafter", "exit8", "--coupling", "gumbel"],
     "--coupling gumbel and --method disd-gumbel cannot both hold: disd-gumbel names its "
     f"coupling (gumbel); {COUPLING_SUFFIX}"),
    (["--method", "mdisd-strong", "--drafter", "exit8", "--drafts", "2", "--coupling", "gls"],
     "--coupling gls and --method mdisd-strong cannot both hold: mdisd-strong uses the K-slot "
     f"race (gls) of its --drafts; {COUPLING_SUFFIX}"),
    (["--method", "mdisd-conditional", "--drafter", "exit8", "--drafts", "2", "--coupling",
      "wmh"],
     "--coupling wmh and --method mdisd-conditional cannot both hold: mdisd-conditional uses "
     f"the K-slot race (gls) of its --drafts; {COUPLING_SUFFIX}"),
], ids=["greedy-temperature", "greedy-top-k", "greedy-top-p", "coupling-sd", "coupling-disd-wmh",
        "coupling-disd-gumbel", "coupling-mdisd-strong", "coupling-mdisd-conditional"])  # fmt: skip
def test_flags_that_cannot_both_hold_are_refused(argv, message, capsys, nothing_opened):
    """--greedy silently overrode --temperature; --coupling was ignored by every method but
    autoregressive."""
    refused(capsys, ["decode", "--prompt", "hi", *argv], message)


def test_sampling_flags_left_out_are_the_defaults(target, capsys):
    """Leaving --temperature, --top-k and --top-p out is giving their defaults; --greedy alone
    and --coupling with autoregressive still run."""
    base = _decode(target, 5, 5, "--method", "autoregressive", "--json")
    outputs = []
    for extra in ([], ["--temperature", "1", "--top-k", "0", "--top-p", "1"],
                  ["--coupling", "gumbel"], ["--greedy"], ["--greedy"]):  # fmt: skip
        assert main([*base, *extra]) == 0
        outputs.append(json.loads(capsys.readouterr().out)["token_ids"])
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[3] == outputs[4] and len(outputs[3]) == 5
