"""Self-speculative early-exit drafters: the target's first k layers, an exit adapter, its head.

The drafter shares the target's embedding, first ``depth`` decoder layers, rotary embedding and
output head (no copies). Without an adapter it is the plain early exit: layers, final norm, head.
With an adapter, one extra decoder layer of the target's architecture (attention plus an MLP of
half the width, initialised from layer ``depth`` of the target) and a trainable copy of the
final norm sit between the shared layers and the head; :mod:`coupling.paper_repro.distill` trains
them by KL distillation against the full model. Only the adapter is stored (float16 safetensors).
"""

import copy
import json
from pathlib import Path

__all__ = ["ADAPTER_DIR", "build_early_exit", "load_adapter", "new_adapter", "save_adapter"]

ADAPTER_DIR = Path(__file__).with_name("adapters")


def _check_layout(target):
    inner = getattr(target, "model", None)
    if inner is None or not all(hasattr(inner, a) for a in ("layers", "norm", "embed_tokens")):
        raise TypeError(
            f"early exits need a decoder-only model with .model.layers/.norm/.embed_tokens; "
            f"got {type(target).__name__}"
        )
    return inner


def new_adapter(target, depth):
    """A fresh exit adapter for ``depth``: (decoder layer, final-norm copy), from the target,
    on the target's device and in its dtype, in eval mode.

    Every weight is copied from layer ``depth`` of the target (the MLP cut to half its width),
    so the layer is built on the meta device and materialised where the target lives: no
    random initialisation, no draw from torch's global generator.
    """
    import torch

    inner = _check_layout(target)
    n_layers = len(inner.layers)
    if not 1 <= depth < n_layers:
        raise ValueError(f"depth must lie in [1, {n_layers - 1}], got {depth}")
    cfg = copy.deepcopy(target.config)
    width = cfg.intermediate_size // 2  # half the target's MLP: 768 for SmolLM2-135M
    cfg.intermediate_size = width
    weight = inner.norm.weight
    with torch.device("meta"):
        layer = type(inner.layers[0])(cfg, layer_idx=depth)
    layer = layer.to_empty(device=weight.device).to(weight.dtype)
    source = inner.layers[depth].state_dict()
    own = layer.state_dict()
    if set(own) != {name for name, _ in layer.named_parameters()} | {
        name for name, _ in layer.named_buffers()
    }:
        raise TypeError(f"{type(layer).__name__} holds state outside its state_dict")
    with torch.no_grad():
        for name, value in own.items():
            src = source[name]
            if "mlp.down_proj" in name:
                value.copy_(src[:, :width])
            elif "mlp." in name:
                value.copy_(src[:width])
            else:
                value.copy_(src)
    norm = copy.deepcopy(inner.norm)
    return layer.eval(), norm.eval()


def build_early_exit(target, depth, adapter=None):
    """A causal LM computing the target's early exit at ``depth`` (plus the adapter if given).

    ``adapter`` is ``None`` or the ``(layer, norm)`` pair of :func:`new_adapter` or
    :func:`load_adapter`.
    """
    import torch

    inner = _check_layout(target)
    n_layers = len(inner.layers)
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth < n_layers:
        raise ValueError(f"depth must be an int in [1, {n_layers - 1}], got {depth!r}")
    cfg = copy.deepcopy(target.config)
    layers = list(inner.layers[:depth])
    norm = inner.norm
    if adapter is not None:
        layer, norm = adapter
        layers.append(layer)
    cfg.num_hidden_layers = len(layers)
    if getattr(cfg, "layer_types", None) is not None:
        cfg.layer_types = list(cfg.layer_types[: len(layers)])
    with torch.device("meta"):
        draft = type(target)(cfg)
    draft.model.embed_tokens = inner.embed_tokens
    draft.model.layers = torch.nn.ModuleList(layers)
    draft.model.norm = norm
    draft.model.rotary_emb = inner.rotary_emb
    draft.lm_head = target.lm_head
    draft.eval()
    return draft


def save_adapter(adapter, path, meta):
    """Store an adapter as float16 safetensors plus a JSON provenance record next to it."""
    from safetensors.torch import save_file

    layer, norm = adapter
    tensors = {f"layer.{k}": v.detach().to("cpu").half().contiguous()
               for k, v in layer.state_dict().items()}  # fmt: skip
    tensors.update({f"norm.{k}": v.detach().to("cpu").half().contiguous()
                    for k, v in norm.state_dict().items()})  # fmt: skip
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={"depth": str(meta["depth"])})
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_adapter(target, path):
    """Read an adapter written by :func:`save_adapter` into fresh modules for ``target``."""
    import torch
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise ValueError(f"adapter file {str(path)!r} does not exist")
    with safe_open(str(path), framework="pt") as fh:
        depth = int(fh.metadata()["depth"])
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    layer, norm = new_adapter(target, depth)
    dtype = norm.weight.dtype
    with torch.no_grad():
        for prefix, module in (("layer.", layer), ("norm.", norm)):
            state = {k[len(prefix) :]: v.to(dtype) for k, v in tensors.items()
                     if k.startswith(prefix)}  # fmt: skip
            module.load_state_dict(state, strict=True)
    layer.eval()
    norm.eval()
    layer.requires_grad_(False)
    norm.requires_grad_(False)
    return depth, (layer, norm)
