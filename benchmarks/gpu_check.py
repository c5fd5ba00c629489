"""The accelerator check: DISD, SD and the samplers on a device, with tiny random models.

Run where a GPU exists, from the repository root: ``PYTHONPATH=. python3
benchmarks/gpu_check.py [DEVICE]`` (default ``cuda``); ``cpu`` runs every check on the CPU (CI
runs ``run("cpu", small=True)`` as a smoke test, ``tests/test_gpu_check.py``). Nothing is
downloaded: the models are tiny random Llama and Gemma-2 configurations and the tokenizer a
word-level one built in place (the ``tokenizers`` library), saved to a temporary directory so
that ``hf:`` drafters load as a user's would.

Checks, each printed on its own line:

1. samplers: the torch backend on the device against the numba backend on the host, on the
   same float64 probabilities (many small-V rows and a few rows at V = 262,144); any
   disagreement must be a near-tie of the race (``log`` rounded differently);
2. per model (Llama, Gemma-2) and dtype (float32, bfloat16): the largest logit difference to
   a float32 CPU copy; DISD (Gumbel and WMH, both decoding backends) with four drafters (an
   early exit without and with an exit adapter, an unrelated model, an ``hf:`` drafter loaded
   from disk by ``make_drafter``) against the autoregressive reference of the same backend; a
   tokenizer mismatch refused; standard SD running;
3. per model and dtype, the engine users call: ``disd_generate`` on a ragged left-padded batch
   of four prompts (four seeds; DISD with two drafters, SD, strong multi-draft) against each
   row's single-sequence reference, and ``KeyedRace`` through ``generate`` (alone and with an
   assistant), all with the torch sampler on the device; every floating-point tensor those
   runs read to the host is counted, and any is a failure (logits stay on the device; only
   integers cross per round);
4. without ``--small``, two distillation steps of an exit adapter on the device;
5. timing: the samplers on a verify block of 9 rows at V = 256,000 against copying the block.

A sequence that differs from the reference is printed with its first differing position: in
low precision a verify pass and one-token steps round the logits differently, which can flip
a sampled token (a floating-point flip, not a decoder error); float32 shows none on the CPU.
The exit status is 1 when a sampler disagreement is not a near-tie or a check raises.
"""

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import coupling.decoding as decoding_package
import coupling.simulate as simulate_package
import numpy as np
import torch
import transformers
from coupling.decoding import KeyedRace, autoregressive, disd, disd_generate, standard_sd
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.bench import device_block_benchmarks
from coupling.paper_repro.distill import DistillConfig, train_adapters
from coupling.paper_repro.drafters import ModelDrafter, make_drafter
from coupling.paper_repro.exits import build_early_exit, new_adapter
from coupling.paper_repro.model import check_device, load_model, quiet_transformers
from coupling.simulate import gumbel_sample, uniform, wmh_sample

VOCAB = 512
NEAR_TIE = 2.0**-48  # relative gap of the two leading race keys below which a flip is a near-tie
PROMPT = [1, 5, 9, 42, 7]
BATCH = (PROMPT, [1, 9, 4], [1, 2, 3, 4, 5, 6, 7], [1, 11])  # a ragged batch, left-padded
HOST_READS = ("tolist", "item", "cpu", "numpy", "__array__", "__float__")


def word_tokenizer(vocab=VOCAB):
    """A word-level fast tokenizer over the words w0 .. w{vocab-3} plus <unk> and <eos>."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = {"<unk>": 0, "<eos>": 1} | {f"w{i}": i + 2 for i in range(vocab - 2)}
    tok = Tokenizer(models.WordLevel(words, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>"
    )


def tiny(kind, seed, layers, dtype, device, vocab=VOCAB):
    """A random causal LM (``llama`` or ``gemma2``) with sharpened logits."""
    common = {"vocab_size": vocab, "hidden_size": 128, "intermediate_size": 256,
              "num_hidden_layers": layers, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 256}  # fmt: skip
    if kind == "llama":
        cfg = transformers.LlamaConfig(tie_word_embeddings=False, **common)
        cls = transformers.LlamaForCausalLM
    else:
        cfg = transformers.Gemma2Config(head_dim=32, sliding_window=256, **common)
        cfg._attn_implementation = "eager"  # Gemma-2's soft-capped attention
        cls = transformers.Gemma2ForCausalLM
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]), torch.no_grad():  # the global generator untouched
        model = cls(cfg)
        for p in model.parameters():
            if p.ndim == 2:  # weight matrices from our generator; norms keep their init
                p.copy_(0.05 * torch.randn(p.shape, generator=gen))
        model.get_output_embeddings().weight.mul_(4.0)
    return model.to(dtype=dtype, device=device).eval().requires_grad_(False)


def _race_keys(p, seed, key):
    """-ln(u) / p of one row (numpy): the Gumbel race's keys, to classify a disagreement."""
    u = uniform(seed=seed, key=key, index=np.arange(p.size), domain="gumbel")
    with np.errstate(divide="ignore"):
        return -np.log(u) / p


def check_samplers(device, small, out):
    """Torch on ``device`` vs numba on the host, same float64 rows; returns bad disagreements."""
    rng = np.random.default_rng(0)
    cases = [(int(rng.integers(2, 300)), 64) for _ in range(8 if small else 200)]
    cases += [(262_144, 2 if small else 8)]
    bad = 0
    for name, sampler in (("gumbel", gumbel_sample), ("wmh", wmh_sample)):
        rows = agree = ties = 0
        for n, count in cases:
            z = rng.standard_normal((count, n)) * rng.choice([0.5, 3.0, 12.0])
            z[rng.random(z.shape) < 0.2] = -np.inf
            z[:, 0] = np.maximum(z[:, 0], 0.0)
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            keys = rng.integers(0, 2**40, size=count)
            host = sampler(p, seed=3, key=keys)
            dev = sampler(torch.tensor(p, device=device), seed=3, key=keys).cpu().numpy()
            rows += count
            agree += int(np.sum(host == dev))
            for r in np.flatnonzero(host != dev):
                if name == "gumbel":
                    k = _race_keys(p[r], 3, int(keys[r]))
                    a, b = k[host[r]], k[dev[r]]
                    near = abs(a - b) <= NEAR_TIE * min(a, b)
                else:  # the records race: no closed form to compare, count it as a failure
                    near = False
                ties += near
                bad += not near
        out(f"[samplers] {name}: torch on {device} equals numba on the host for {agree} of "
            f"{rows} float64 rows ({rows - agree - ties} beyond near-ties); V up to "
            f"{max(n for n, _ in cases)}")  # fmt: skip
    return bad


def _save(model, tokenizer, path):
    with quiet_transformers():
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
    return str(path)


def check_distill(device, tmp, out):
    """Two distillation steps of an exit adapter on the device (inputs follow the model)."""
    loaded = load_model(_save(tiny("llama", 0, 4, torch.float32, "cpu"), word_tokenizer(),
                              tmp / "distill-target"), device=device)  # fmt: skip
    cfg = DistillConfig(depths=(2,), steps=2, batch=1, seq_len=32, warmup=1, eval_chunks=2)
    report = train_adapters(loaded, cfg, tmp / "adapters")
    out(f"[distill] 2 steps on {device}: D_TV of the exit {report[2]['tv_before']:.3f} -> "
        f"{report[2]['tv_after']:.3f}")  # fmt: skip


def check_model(kind, dtype, device, small, tmp, out):
    """DISD invariance, drafters on the device, SD, for one model and dtype."""
    tok = word_tokenizer()
    dtype_name = str(dtype).removeprefix("torch.")
    name = f"[{kind} {dtype_name}]"
    target_dir = _save(tiny(kind, 0, 6, torch.float32, "cpu"), tok, tmp / f"{kind}-target")
    other_dir = _save(tiny(kind, 7, 2, torch.float32, "cpu"), tok, tmp / f"{kind}-other")
    loaded = load_model(target_dir, dtype=dtype_name, device=device)
    model = loaded.model
    reference = CachedLM(load_model(target_dir).model).logits(PROMPT, 3)
    err = float((reference - CachedLM(model).logits(PROMPT, 3).cpu()).abs().max())
    out(f"{name} max |logit, CPU float32 - {device} {dtype_name}| = {err:.3g}")
    drafters = {
        "exit2": ModelDrafter(build_early_exit(model, 2), "exit2"),
        "exit3-adapter": ModelDrafter(
            build_early_exit(model, 3, new_adapter(model, 3)), "exit3-adapter"
        ),
        "other": ModelDrafter(tiny(kind, 7, 2, dtype, device), "other"),
        "hf": make_drafter(f"hf:{other_dir}", loaded),
    }
    weight = drafters["hf"].lm.model.get_output_embeddings().weight
    out(f"{name} hf: drafter loaded on {weight.device} in {weight.dtype} (target's)")
    other_tok = word_tokenizer(VOCAB - 1)
    try:
        _save(tiny(kind, 7, 2, torch.float32, "cpu", VOCAB - 1), other_tok, tmp / "mismatch")
        make_drafter(f"hf:{tmp / 'mismatch'}", loaded)
        out(f"{name} FAILED: a drafter with another tokenizer was accepted")
        return 1, 0, 0
    except ValueError as exc:
        out(f"{name} refused as it should: {str(exc)[:70]}...")
    sampling = SamplingConfig()
    seeds, tokens, gammas = (range(1), 8, (3,)) if small else (range(4), 24, (1, 4))
    runs = differ = 0
    for coupling in ("gumbel", "wmh"):
        for backend in ("numba", "torch"):
            for seed in seeds:
                ref = autoregressive(CachedLM(model), PROMPT, seed=seed, max_new_tokens=tokens,
                                     sampling=sampling, coupling=coupling,
                                     backend=backend).tokens  # fmt: skip
                for dname, drafter in drafters.items():
                    for gamma in gammas:
                        got = disd(CachedLM(model), drafter, PROMPT, seed=seed, gamma=gamma,
                                   max_new_tokens=tokens, sampling=sampling, coupling=coupling,
                                   backend=backend).tokens  # fmt: skip
                        runs += 1
                        if got != ref:
                            differ += 1
                            first = next(i for i, (x, y) in enumerate(zip(got, ref)) if x != y)
                            out(f"{name} differs: {coupling} {backend} seed {seed} {dname} "
                                f"gamma {gamma} from position {first}")  # fmt: skip
    sd = standard_sd(CachedLM(model), drafters["hf"], PROMPT, seed=0, gamma=4,
                     max_new_tokens=tokens, sampling=sampling, backend="torch")  # fmt: skip
    out(
        f"{name} DISD: {runs - differ} of {runs} sequences equal the reference; SD (torch "
        f"rule, hf: drafter): {len(sd.tokens)} tokens in {sd.stats.target_calls} target calls"
    )
    return 0, runs, differ


@contextlib.contextmanager
def host_float_reads():
    """Record every floating-point tensor that ``coupling.decoding`` or ``coupling.simulate``
    reads to the host inside the block (method, shape, file:line): the Tensor methods that copy
    values out, wrapped for the block's duration and restored after. On a CPU nothing is
    copied, but the same call on a GPU would copy: an empty list is the rule either way."""
    ours = tuple(str(Path(m.__file__).parent) for m in (decoding_package, simulate_package))
    reads, originals = [], {name: getattr(torch.Tensor, name) for name in HOST_READS}

    def wrapped(name, original):
        def read(self, *args, **kwargs):
            caller = sys._getframe(1)
            if self.is_floating_point() and caller.f_code.co_filename.startswith(ours):
                where = f"{Path(caller.f_code.co_filename).name}:{caller.f_lineno}"
                reads.append((name, tuple(self.shape), where))
            return original(self, *args, **kwargs)

        return read

    try:
        for name, original in originals.items():
            setattr(torch.Tensor, name, wrapped(name, original))
        yield reads
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


def check_engine(kind, dtype, device, small, out):
    """``disd_generate`` and ``KeyedRace`` on the device against the single-sequence reference;
    returns (failures, rows compared, rows differing)."""
    name = f"[engine {kind} {str(dtype).removeprefix('torch.')}]"
    target = tiny(kind, 0, 6, dtype, device)
    drafters = [tiny(kind, 7, 2, dtype, device), tiny(kind, 8, 3, dtype, device)]
    width = max(len(p) for p in BATCH)
    ids = torch.tensor([[0] * (width - len(p)) + p for p in BATCH], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in BATCH], device=device)
    seeds, tokens = [0, 1, 2, 3], 8 if small else 24
    common = {"attention_mask": mask, "seed": seeds, "max_new_tokens": tokens, "backend": "torch"}
    sampling = SamplingConfig()
    refs = [autoregressive(CachedLM(target), p, seed=s, max_new_tokens=tokens, sampling=sampling,
                           backend="torch").tokens for p, s in zip(BATCH, seeds)]  # fmt: skip
    rows = differ = 0
    with host_float_reads() as reads, quiet_transformers():  # its assistant's own notices
        runs = [(f"disd, drafter {i}", disd_generate(target, d, ids, eos_token_id=[], **common))
                for i, d in enumerate(drafters)]  # fmt: skip
        sd = disd_generate(target, drafters[0], ids, method="sd", eos_token_id=[], **common)
        strong = disd_generate(target, drafters[0], ids, method="mdisd-strong", drafts=2,
                               eos_token_id=[], **common)  # fmt: skip
        race = KeyedRace(seed=seeds, attention_mask=mask, backend="torch")
        plain = target.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=tokens,
                                logits_processor=[race], pad_token_id=0)  # fmt: skip
        assisted = target.generate(ids[:1, width - len(PROMPT) :], do_sample=False,
                                   max_new_tokens=tokens, pad_token_id=0,
                                   logits_processor=[KeyedRace(seed=0, backend="torch")],
                                   assistant_model=drafters[1])  # fmt: skip
    for label, result in runs:
        for r, ref in enumerate(refs):
            got = result.sequences[r, width : width + int(result.new_tokens[r])].tolist()
            rows += 1
            if got != ref[: len(got)] or len(got) != tokens:
                differ += 1
                out(f"{name} differs: {label}, row {r}")
    for r, ref in enumerate(refs):
        rows += 1
        if plain[r, width:].tolist()[: len(ref)] != ref:
            differ += 1
            out(f"{name} differs: generate + KeyedRace, row {r}")
    rows += 1
    if assisted[0, len(PROMPT) :].tolist() != refs[0][: assisted.shape[1] - len(PROMPT)]:
        differ += 1
        out(f"{name} differs: assisted generation + KeyedRace")
    calls = int(sd.target_calls.sum()), int(strong.target_calls.sum())
    out(f"{name} {rows - differ} of {rows} rows equal the reference (disd_generate with two "
        f"drafters, generate + KeyedRace alone and assisted); SD / strong multi-draft: {calls[0]} "
        f"/ {calls[1]} target calls for 4 x {tokens} tokens; floats read to the host: "
        f"{len(reads)}")  # fmt: skip
    for read in reads[:5]:
        out(f"{name} FAILED: a float tensor read to the host: {read}")
    return int(bool(reads)), rows, differ


def run(device="cuda", *, small=False, timing=True, out=print):
    """Every check on ``device``; returns a summary dict (failures, sequences, differing)."""
    dev = check_device(device)
    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    out(f"device {dev} ({where}), torch {torch.__version__}, transformers "
        f"{transformers.__version__}, {torch.get_num_threads()} CPU threads")  # fmt: skip
    start = time.perf_counter()
    failures = check_samplers(str(dev), small, out)
    summary = {"sequences": {}, "differing": {}, "engine rows": {}, "engine differing": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("llama", "gemma2"):
            for dtype in (torch.float32, torch.bfloat16):
                bad, runs, differ = check_model(kind, dtype, str(dev), small, Path(tmp), out)
                label = f"{kind}-{str(dtype).removeprefix('torch.')}"
                failures += bad
                summary["sequences"][label] = runs
                summary["differing"][label] = differ
                bad, rows, differ = check_engine(kind, dtype, str(dev), small, out)
                failures += bad
                summary["engine rows"][label] = rows
                summary["engine differing"][label] = differ
        if not small:  # the data is the standard library's docstrings: slow to gather
            check_distill(str(dev), Path(tmp), out)
    if timing:
        shape = (9, 4096) if small else None
        for row in device_block_benchmarks(str(dev), shape=shape, repeats=3 if small else 20):
            out(f"[timing] {row.name}: {row.value:.3f} {row.unit} (target {row.target}; "
                f"{row.baseline})")  # fmt: skip
    out(f"failures: {failures}; {time.perf_counter() - start:.0f} s")
    return summary | {"failures": failures}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("device", nargs="?", default="cuda", help="torch device (default cuda)")
    parser.add_argument("--small", action="store_true", help="fewer seeds and tokens (CI)")
    parser.add_argument("--no-timing", action="store_true", help="skip the timing rows")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device; nothing to check (pass --device cpu for the CPU)")
        return 0
    return 1 if run(args.device, small=args.small, timing=not args.no_timing)["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
