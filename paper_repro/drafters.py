"""Drafters: anything that, given a context, returns next-token logits.

The interface is one method, ``next_token_logits(context) -> torch.Tensor (V,)``: unnormalised
log-probabilities (float64) on the target's device, for ``context`` a list of token ids; plus
``reset()`` for a new prompt. The decoders refuse a drafter whose logits are elsewhere or over
another vocabulary. Named drafters follow the target: they run on its device, in its dtype
(``hf:`` drafters may take another dtype, ``make_drafter(..., dtype=...)``):

* ``exit8``, ``exit16``: early exits after 8 or 16 of the target's layers with a trained exit
  adapter (committed in ``paper_repro/adapters``);
* ``exit8-raw``, ``exit16-raw``: the same exits without an adapter (final norm and head only);
* ``hf:PATH``: any causal LM sharing the target's tokenizer.
"""

from paper_repro.exits import ADAPTER_DIR, build_early_exit, load_adapter
from paper_repro.lm import CachedLM
from paper_repro.model import check_same_tokenizer, load_model

__all__ = ["EXIT_DEPTHS", "ModelDrafter", "drafter_names", "make_drafter"]

EXIT_DEPTHS = (8, 16)


class ModelDrafter:
    """A causal LM used as a drafter, behind a prefix-reusing KV cache."""

    def __init__(self, model, name):
        self.lm = CachedLM(model)
        self.name = name

    def reset(self):
        self.lm.reset()

    def next_token_logits(self, context):
        """Float64 logits (V,) for the token after ``context``, on the model's device."""
        return self.lm.logits(context, 1)[0]


def adapter_path(depth):
    return ADAPTER_DIR / f"exit{depth}.safetensors"


def drafter_names():
    """The named drafters with a short description each."""
    names = {}
    for d in EXIT_DEPTHS:
        trained = "trained adapter" if adapter_path(d).exists() else "adapter not trained yet"
        names[f"exit{d}"] = f"first {d} layers + exit adapter ({trained})"
        names[f"exit{d}-raw"] = f"first {d} layers + final norm + head, no adapter"
    names["hf:PATH"] = "any causal LM at PATH (or hub id) sharing the target's tokenizer"
    return names


def make_drafter(name, target, *, dtype=None):
    """Build drafter ``name`` for ``target`` (a :class:`~paper_repro.model.LoadedModel`).

    Exit drafters share the target's layers, so they live on its device in its dtype; an
    ``hf:`` drafter is loaded onto the target's device, in ``dtype`` (a name such as
    ``"bfloat16"``; default the target's dtype), and refused unless its tokenizer is the
    target's.
    """
    if not isinstance(name, str):
        raise TypeError(f"drafter name must be a str, got {name!r}")
    if name.startswith("hf:"):
        weight = target.model.get_output_embeddings().weight
        dtype = dtype or str(weight.dtype).removeprefix("torch.")
        other = load_model(name[3:], dtype=dtype, device=str(weight.device))
        check_same_tokenizer(target.tokenizer, other.tokenizer)
        return ModelDrafter(other.model, name)
    if dtype is not None:
        raise ValueError(f"drafter {name!r} shares the target's layers and dtype; "
                         "a drafter dtype applies to hf: drafters only")  # fmt: skip
    for d in EXIT_DEPTHS:
        if name == f"exit{d}-raw":
            return ModelDrafter(build_early_exit(target.model, d), name)
        if name == f"exit{d}":
            path = adapter_path(d)
            if not path.exists():
                raise ValueError(
                    f"drafter {name!r} has no trained adapter at {path}; "
                    f"run `coupling distill --depths {d}` or use {name}-raw"
                )
            depth, adapter = load_adapter(target.model, path)
            return ModelDrafter(build_early_exit(target.model, depth, adapter), name)
    raise ValueError(f"unknown drafter {name!r}; choose from {', '.join(drafter_names())}")
