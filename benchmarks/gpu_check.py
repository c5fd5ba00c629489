"""DISD on a CUDA device: the decoders run unchanged on GPU models and stay drafter-invariant.

Run where a GPU exists: ``python3 benchmarks/gpu_check.py [DEVICE]`` (default cuda; tiny
random Llamas, no download; ``cpu`` runs the same checks on the CPU).
For each dtype, DISD-Gumbel and DISD-WMH with three drafters (an early exit with and without an
adapter, an unrelated model) must give exactly the autoregressive reference's tokens; standard
SD must run. Prints the CPU-GPU logit difference for the same weights, and every sequence
that differs from the reference with the position of the first difference (low precision
makes a multi-token verify pass and one-token steps round differently: floating-point flips).
"""

import sys

import numpy as np
import torch
import transformers

from paper_repro.decoders.autoregressive import autoregressive
from paper_repro.decoders.disd import disd
from paper_repro.decoders.standard import standard_sd
from paper_repro.drafters import ModelDrafter
from paper_repro.exits import build_early_exit, new_adapter
from paper_repro.lm import CachedLM
from paper_repro.sampling import SamplingConfig


def tiny(seed, layers, dtype, device):
    cfg = transformers.LlamaConfig(vocab_size=512, hidden_size=128, intermediate_size=256,
                                   num_hidden_layers=layers, num_attention_heads=4,
                                   num_key_value_heads=2, max_position_embeddings=256,
                                   tie_word_embeddings=False)  # fmt: skip
    torch.manual_seed(seed)
    model = transformers.LlamaForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight.mul_(4.0)
    return model.to(dtype=dtype, device=device).eval().requires_grad_(False)


def main(device="cuda"):
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("no CUDA device; nothing to check (pass cpu to run the checks on the CPU)")
            return 0
        print(torch.cuda.get_device_name(0), "torch", torch.__version__)
    failures = 0
    sampling = SamplingConfig(temperature=1.0)
    prompt = [1, 5, 9, 42, 7]
    for dtype in (torch.float32, torch.bfloat16):
        target_model = tiny(0, 6, dtype, device)
        cpu_logits = CachedLM(tiny(0, 6, torch.float32, "cpu")).logits(prompt, 3)
        gpu_logits = CachedLM(target_model).logits(prompt, 3)
        err = float(np.max(np.abs(cpu_logits - gpu_logits)))
        print(f"{dtype}: max |logit, CPU float32 - {device}| = {err:.3g}")
        drafters = {
            "exit2": ModelDrafter(build_early_exit(target_model, 2), "exit2"),
            "exit3-adapter": ModelDrafter(
                build_early_exit(target_model, 3, new_adapter(target_model, 3)), "exit3-adapter"
            ),
            "other": ModelDrafter(tiny(7, 2, dtype, device), "other"),
        }
        for coupling in ("gumbel", "wmh"):
            for seed in range(4):
                ref = autoregressive(CachedLM(target_model), prompt, seed=seed,
                                     max_new_tokens=24, sampling=sampling,
                                     coupling=coupling).tokens  # fmt: skip
                for name, drafter in drafters.items():
                    for gamma in (1, 4):
                        drafter.reset()
                        out = disd(CachedLM(target_model), drafter, prompt, seed=seed,
                                   gamma=gamma, max_new_tokens=24, sampling=sampling,
                                   coupling=coupling)  # fmt: skip
                        if out.tokens != ref:  # a verify pass and one-token steps can
                            failures += 1  # round differently (a floating-point flip)
                            first = next(i for i, (x, y) in enumerate(zip(out.tokens, ref))
                                         if x != y)  # fmt: skip
                            print(f"differs: {dtype} {coupling} seed {seed} {name} "
                                  f"gamma {gamma} from position {first}")  # fmt: skip
        sd = standard_sd(CachedLM(target_model), drafters["exit2"], prompt, seed=0, gamma=4,
                         max_new_tokens=24, sampling=sampling)  # fmt: skip
        print(f"{dtype}: DISD checks done; SD produced {len(sd.tokens)} tokens, "
              f"{sd.stats.target_calls} target calls")  # fmt: skip
    print(f"sequences differing from the reference: {failures} of 96")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
