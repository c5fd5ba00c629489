r"""Training early-exit adapters by distillation against the full model.

Loss at every position of a text chunk:
:math:`\mathrm{KL}(p_{\text{target}} \,\|\, q_{\text{exit}})` over the full vocabulary
(both at temperature 1). One teacher forward pass gives the target's
distributions and the hidden states after every layer, so all depths train from the same pass
and only the adapter, the final-norm copy and (frozen) head see gradients.

Data: docstrings of the Python standard library installed with the interpreter (module, class
and function docstrings of at least 200 characters, files in sorted order), tokenised and cut
into chunks of ``seq_len`` tokens; a seeded permutation picks a held-out set for evaluation.
Training checkpoints every ``checkpoint_every`` steps and resumes from the checkpoint.
"""

import ast
import hashlib
import math
import sysconfig
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from coupling.paper_repro.exits import build_early_exit, new_adapter, save_adapter

__all__ = ["DistillConfig", "exit_tv", "stdlib_docstrings", "train_adapters"]


@dataclass(frozen=True)
class DistillConfig:
    """Settings of one distillation run (the committed adapters used these defaults); the
    ``coupling distill`` flags default to them."""

    depths: tuple = (8, 16)  # exits to train, one adapter each
    steps: int = 200  # optimiser steps
    batch: int = 2  # chunks per step
    seq_len: int = 256  # tokens per chunk
    lr: float = 5e-4  # AdamW peak learning rate (linear warm-up, cosine decay to 10%)
    warmup: int = 20
    eval_chunks: int = 8  # held-out chunks for the D_TV report
    seed: int = 0
    checkpoint_every: int = 40

    def __post_init__(self):
        from coupling.simulate.validation import as_count, as_real

        if not isinstance(self.depths, tuple) or not self.depths:
            raise ValueError(f"depths must be a non-empty tuple of ints, got {self.depths!r}")
        for d in self.depths:
            as_count(d, "depth")
        if len(set(self.depths)) != len(self.depths):
            raise ValueError(f"depths repeat: {self.depths}")
        for name in ("steps", "batch", "eval_chunks", "checkpoint_every"):
            as_count(getattr(self, name), name)
        as_count(self.seq_len, "seq_len", minimum=2)  # a chunk predicts its tokens after the first
        as_count(self.warmup, "warmup", minimum=0)
        as_count(self.seed, "seed", minimum=0)
        as_real(self.lr, "lr", 0, 1, open_low=True)

    def check_depths(self, n_layers):
        """Refuse a depth the target cannot exit at (it has ``n_layers`` layers)."""
        bad = [d for d in self.depths if not 1 <= d < n_layers]
        if bad:
            raise ValueError(f"depths {bad} out of range: the target has {n_layers} layers, "
                             f"so an exit lies after 1 to {n_layers - 1} of them")  # fmt: skip


def stdlib_docstrings(min_chars=200):
    """Docstrings of the interpreter's standard library as one text, and a description."""
    root = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(("site-packages/", "test/", "idlelib/idle_test/")) or "/tests/" in rel:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= min_chars:
                    parts.append(doc)
    text = "\n\n".join(parts)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    desc = (
        f"Python {sysconfig.get_python_version()} stdlib docstrings >= {min_chars} chars "
        f"({len(parts)} docstrings, {len(text)} chars, sha256 {digest})"
    )
    return text, desc


def _chunks(tokenizer, text, seq_len, seed, eval_chunks):
    ids = np.asarray(tokenizer(text).input_ids, dtype=np.int64)
    n = ids.size // seq_len
    chunks = ids[: n * seq_len].reshape(n, seq_len)
    order = np.random.default_rng(seed).permutation(n)
    return chunks[order[eval_chunks:]], chunks[order[:eval_chunks]]


def _student_logits(target, adapter, hidden, positions):
    layer, norm = adapter
    pe = target.model.rotary_emb(hidden, position_ids=positions)
    h = layer(hidden, attention_mask=None, position_embeddings=pe, position_ids=positions)
    if isinstance(h, tuple):
        h = h[0]
    return target.lm_head(norm(h))


def exit_tv(target, drafter_model, chunks):
    """Mean total-variation distance between target and drafter over every chunk position."""
    import torch

    device = target.get_output_embeddings().weight.device
    total, count = 0.0, 0
    with torch.inference_mode():
        for chunk in chunks:
            ids = torch.as_tensor(chunk[None], device=device)
            p = torch.softmax(target(ids).logits[0].double(), -1)
            q = torch.softmax(drafter_model(ids).logits[0].double(), -1)
            total += float(0.5 * (p - q).abs().sum(-1).sum())
            count += ids.shape[1]
    return total / count


def _lr(step, cfg):
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))


def train_adapters(loaded, cfg, out_dir, *, command="", progress=None):
    """Train one adapter per depth; write ``exit{d}.safetensors`` + ``.json`` into ``out_dir``.

    Runs on the target's device. Nothing here draws from torch's random generators: the
    adapters start as copies of the target's layers and the data order comes from a numpy
    generator seeded with ``cfg.seed``. Returns a dict depth -> metadata (D_TV before/after,
    seconds, data description).
    """
    import torch

    target, tok = loaded.model, loaded.tokenizer
    device = target.get_output_embeddings().weight.device
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text, data_desc = stdlib_docstrings()
    train, held = _chunks(tok, text, cfg.seq_len, cfg.seed, cfg.eval_chunks)
    adapters = {d: new_adapter(target, d) for d in cfg.depths}
    params = [p for layer, norm in adapters.values() for p in (*layer.parameters(),
                                                              *norm.parameters())]  # fmt: skip
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    ckpt = out_dir / ".distill-checkpoint.pt"
    start_step, elapsed = 0, 0.0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=False, map_location=device)
        if state["config"] == asdict(cfg):
            for d, (layer, norm) in adapters.items():
                layer.load_state_dict(state["layers"][d])
                norm.load_state_dict(state["norms"][d])
            opt.load_state_dict(state["opt"])
            start_step, elapsed = state["step"], state["seconds"]
    before = {d: exit_tv(target, build_early_exit(target, d), held) for d in cfg.depths}
    rng = np.random.default_rng([cfg.seed, 1])
    schedule = [rng.integers(0, len(train), cfg.batch) for _ in range(cfg.steps)]
    t0 = time.perf_counter() - elapsed
    losses = {d: [] for d in cfg.depths}
    for step in range(start_step, cfg.steps):
        ids = torch.as_tensor(train[schedule[step]], device=device)
        positions = torch.arange(ids.shape[1], device=device)[None]
        with torch.no_grad():
            out = target(ids, output_hidden_states=True)
            teacher = torch.log_softmax(out.logits.float(), -1)
        for g in opt.param_groups:
            g["lr"] = _lr(step, cfg)
        opt.zero_grad(set_to_none=True)
        for d, adapter in adapters.items():
            student = torch.log_softmax(
                _student_logits(target, adapter, out.hidden_states[d], positions), -1
            )
            loss = torch.nn.functional.kl_div(student, teacher, log_target=True,
                                              reduction="none").sum(-1).mean()  # fmt: skip
            loss.backward()
            losses[d].append(loss.item())
        opt.step()
        if progress is not None:
            progress(step + 1, {d: v[-1] for d, v in losses.items()})
        if (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            tmp = ckpt.with_suffix(".tmp")
            torch.save(
                {
                    "config": asdict(cfg),
                    "step": step + 1,
                    "opt": opt.state_dict(),
                    "seconds": time.perf_counter() - t0,
                    "layers": {d: a[0].state_dict() for d, a in adapters.items()},
                    "norms": {d: a[1].state_dict() for d, a in adapters.items()},
                },
                tmp,
            )
            tmp.replace(ckpt)
    seconds = time.perf_counter() - t0
    report = {}
    for d, adapter in adapters.items():
        for p in (*adapter[0].parameters(), *adapter[1].parameters()):
            p.requires_grad_(False)
        after = exit_tv(target, build_early_exit(target, d, adapter), held)
        meta = {"depth": d, "command": command, "config": asdict(cfg), "data": data_desc,
                "tv_before": before[d], "tv_after": after, "train_seconds": seconds,
                "final_kl": float(np.mean(losses[d][-20:])) if losses[d] else None,
                "eval_tokens": int(held.size), "torch": torch.__version__,
                "target": loaded.source}  # fmt: skip
        save_adapter(adapter, out_dir / f"exit{d}.safetensors", meta)
        report[d] = meta
    ckpt.unlink(missing_ok=True)
    return report
