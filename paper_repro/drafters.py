"""Drafters: anything that, given a context, returns next-token logits.

The interface is ``next_token_logits(context) -> torch.Tensor (V,)`` (float64, unnormalised
log-probabilities, on the target's device), ``path_logits(context, count) -> torch.Tensor
(count, V)`` (the same for the last ``count`` positions of ``context`` in one teacher-forced
pass: row j predicts the token after ``context[:len(context) - count + 1 + j]``), and
``reset()`` for a new prompt. The decoders refuse a drafter whose logits are elsewhere or over
another vocabulary. Named drafters follow the target: they run on its device, in its dtype
(``hf:`` drafters may take another dtype, ``make_drafter(..., dtype=...)``).

Named drafters, all built offline from the target (see :data:`DRAFTERS`) and spanning the range
of D_TV to the target, from the early exits (0.7-0.95) through the quantized copies (0.3-0.7)
to the target at another precision or temperature (below 0.3); ``hf:PATH`` is any causal LM
sharing the target's tokenizer.
"""

from dataclasses import dataclass, field

from coupling.decoding.lm import CachedLM
from coupling.paper_repro.exits import ADAPTER_DIR, build_early_exit, load_adapter
from coupling.paper_repro.model import (
    check_dtype,
    check_same_tokenizer,
    check_source,
    load_model,
    open_model,
)
from coupling.paper_repro.quantize import int8_dynamic, quantize_weights

__all__ = [
    "DEFAULT_DRAFTERS",
    "DRAFTERS",
    "DrafterSpec",
    "ModelDrafter",
    "adapter_path",
    "check_drafter_name",
    "drafter_names",
    "lazy_drafters",
    "make_drafter",
    "open_drafter",
]


@dataclass(frozen=True)
class DrafterSpec:
    """How a named drafter is built from the target: ``kind`` and its parameters.

    Kinds: ``exit`` (``depth``, ``adapter``: the first layers, with or without the trained
    exit adapter), ``quantized`` (``bits``, ``group``: weight-only group rounding),
    ``int8`` (torch's dynamic int8), ``dtype`` (``dtype``: the target cast), ``temperature``
    (``T``: the target's logits divided by T).
    """

    kind: str
    params: dict = field(default_factory=dict)
    description: str = ""

    def definition(self):
        """A JSON-able record of what the drafter is (the key of cached measurements)."""
        return {"kind": self.kind, **self.params}


def _registry():
    out = {}
    for d in (8, 16):
        out[f"exit{d}"] = DrafterSpec("exit", {"depth": d, "adapter": True},
                                      f"first {d} layers + trained exit adapter")  # fmt: skip
    for d in (8, 16, 24, 28):
        out[f"exit{d}-raw"] = DrafterSpec("exit", {"depth": d, "adapter": False},
                                          f"first {d} layers + final norm + head")  # fmt: skip
    for bits in (3, 2):
        out[f"q{bits}g32"] = DrafterSpec("quantized", {"bits": bits, "group": 32},
                                         f"decoder weights rounded to {bits} bits in groups "
                                         "of 32 (min-max)")  # fmt: skip
    out["int8"] = DrafterSpec("int8", {}, "torch dynamic int8 quantization of every linear")
    out["bf16"] = DrafterSpec("dtype", {"dtype": "bfloat16"}, "the target in bfloat16")
    for t in (0.8, 1.25, 1.5):
        out[f"temp{t}"] = DrafterSpec("temperature", {"T": t},
                                      f"the target's logits divided by {t}")  # fmt: skip
    return out


#: The named drafters of the default target.
DRAFTERS = _registry()

#: The coupling experiment's drafters: chosen so that at least a quarter of its positions lie
#: below D = 0.3 and a quarter in [0.3, 0.7) (the shares are in the report).
DEFAULT_DRAFTERS = ("exit16", "exit28-raw", "q3g32", "int8", "temp0.8", "temp1.5")


class ModelDrafter:
    """A causal LM used as a drafter, behind a prefix-reusing KV cache.

    ``temperature`` (default 1) divides the logits: the target itself at another temperature.
    ``device`` (default: where the model's output head is) is where the logits are returned,
    the target's for a drafter spread over other GPUs.
    """

    def __init__(self, model, name, temperature=1.0, device=None):
        self.lm = CachedLM(model)
        self.name = name
        self.temperature = float(temperature)
        self.device = device  # where the logits go (None: where the model's head is)

    def reset(self):
        """Forget the cached context (a new prompt)."""
        self.lm.reset()

    def next_token_logits(self, context):
        """Float64 logits (V,) for the token after ``context``, on :attr:`device`."""
        return self._out(self.lm.logits(context, 1)[0])

    def path_logits(self, context, count):
        """Float64 logits (count, V) for the last ``count`` positions of ``context``."""
        return self._out(self.lm.logits(context, count))

    def _out(self, logits):
        if self.device is not None:
            logits = logits.to(self.device)
        return logits / self.temperature if self.temperature != 1.0 else logits


def adapter_path(depth):
    """Where the trained exit adapter for ``depth`` layers is stored."""
    return ADAPTER_DIR / f"exit{depth}.safetensors"


def drafter_names():
    """The named drafters with a short description each (and ``hf:PATH``)."""
    names = {}
    for name, spec in DRAFTERS.items():
        note = ""
        if spec.kind == "exit" and spec.params["adapter"]:
            if not adapter_path(spec.params["depth"]).exists():
                note = " (not trained yet)"
        names[name] = spec.description + note
    names["hf:PATH"] = "any causal LM at PATH (or hub id) sharing the target's tokenizer"
    return names


def check_drafter_name(name):
    """Refuse a drafter name that is neither named nor ``hf:PATH`` (before any model work)."""
    if not isinstance(name, str):
        raise TypeError(f"drafter name must be a str, got {name!r}")
    if name.startswith("hf:"):
        if not name[3:].strip():
            raise ValueError(f"drafter {name!r} names no model after 'hf:'")
        check_source(name[3:])
        return name
    if name not in DRAFTERS:
        raise ValueError(f"unknown drafter {name!r}; choose from {', '.join(drafter_names())}")
    return name


def _build(spec, name, model):
    if spec.kind == "exit":
        depth = spec.params["depth"]
        if not spec.params["adapter"]:
            return build_early_exit(model, depth)
        path = adapter_path(depth)
        if not path.exists():
            raise ValueError(
                f"drafter {name!r} has no trained adapter at {path}; "
                f"run `coupling distill --depths {depth}` or use {name}-raw"
            )
        depth, adapter = load_adapter(model, path)
        return build_early_exit(model, depth, adapter)
    if spec.kind == "quantized":
        return quantize_weights(model, spec.params["bits"], spec.params["group"])
    if spec.kind == "int8":
        return int8_dynamic(model)
    if spec.kind == "dtype":
        import copy

        import torch

        return copy.deepcopy(model).to(getattr(torch, spec.params["dtype"]))
    return model  # temperature: the target itself, logits rescaled by the drafter


def _placement(model):
    """The dtype and device an ``hf:`` drafter loads with: the target's."""
    dtype = str(model.dtype).removeprefix("torch.")
    device = "auto" if getattr(model, "hf_device_map", None) else str(model.device)
    return {"dtype": dtype, "device": device}


def make_drafter(name, target, *, dtype=None, files=None):
    """Build drafter ``name`` for ``target`` (a :class:`~coupling.paper_repro.model.LoadedModel`).

    Named drafters are built from the target's own layers, on its device; an ``hf:`` drafter
    is loaded onto the target's device (spread over the GPUs when the target is), in ``dtype``
    (a name such as ``"bfloat16"``; default the target's dtype), its logits returned where the
    target's are, and refused unless its tokenizer is the target's. ``files`` are the ``hf:``
    drafter's :class:`~coupling.paper_repro.model.ModelFiles` when the caller opened them
    already (:func:`open_drafter`, to check the drafter before loading the target).
    """
    check_drafter_name(name)
    if dtype is not None:
        check_dtype(dtype)
    if name.startswith("hf:"):
        placement = _placement(target.model)
        if dtype is not None:
            placement["dtype"] = dtype
        files = files or open_drafter(name, target.tokenizer)
        other = load_model(files, **placement)
        head = target.model.get_output_embeddings().weight.device
        return ModelDrafter(other.model, name, device=head)
    if dtype is not None:
        raise ValueError(f"drafter {name!r} shares the target's layers and dtype; "
                         "a drafter dtype applies to hf: drafters only")  # fmt: skip
    if files is not None:
        raise ValueError(f"drafter {name!r} is built from the target; files apply to hf: "
                         "drafters only")  # fmt: skip
    spec = DRAFTERS[name]
    model = _build(spec, name, target.model)
    return ModelDrafter(model, name, spec.params.get("T", 1.0))


def open_drafter(name, tokenizer):
    """The :class:`~coupling.paper_repro.model.ModelFiles` of ``hf:`` drafter ``name`` (its
    config and tokenizer, no weights: see :func:`~coupling.paper_repro.model.open_model`),
    refused unless its tokenizer is ``tokenizer`` (the target's); None for a named drafter,
    which is the target's own config."""
    check_drafter_name(name)
    if not name.startswith("hf:"):
        return None
    files = open_model(name[3:])
    check_same_tokenizer(tokenizer, files.tokenizer)
    return files


def lazy_drafters(names, target):
    """A function returning {name: drafter} for ``names``, built on its first call only (a
    resumed experiment with every unit stored builds none)."""
    built = {}

    def get():
        if not built:
            built.update({name: make_drafter(name, target) for name in names})
        return built

    return get
