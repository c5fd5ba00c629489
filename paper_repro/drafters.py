"""Drafters: anything that, given a context, returns next-token logits.

The interface is one method, ``next_token_logits(context) -> ndarray (V,)`` (float64,
unnormalised log-probabilities), plus ``reset()`` for a new prompt. Named drafters:

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


def make_drafter(name, target):
    """Build drafter ``name`` for ``target`` (a :class:`~paper_repro.model.LoadedModel`)."""
    if not isinstance(name, str):
        raise TypeError(f"drafter name must be a str, got {name!r}")
    if name.startswith("hf:"):
        other = load_model(name[3:])
        check_same_tokenizer(target.tokenizer, other.tokenizer)
        return ModelDrafter(other.model, name)
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
