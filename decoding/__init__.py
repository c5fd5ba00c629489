"""The decoding engine: drafter-invariant speculative decoding and its baselines.

What users call to decode lives here, beside (not inside) the paper's experiments in
:mod:`coupling.paper_repro`, which use it:

* :mod:`.sampling`: :class:`SamplingConfig`, how logits become the distribution both models
  are coupled on (temperature, top-k, top-p, greedy);
* :mod:`.lm`: :class:`CachedLM`, a causal LM behind a prefix-reusing KV cache;
* :mod:`.keyed_race`: :class:`KeyedRace`, the public-randomness race as a transformers logits
  processor (``target.generate(ids, do_sample=False, logits_processor=[KeyedRace(seed=0)])``,
  with ``assistant_model=drafter`` it is DISD inside transformers' assisted generation);
* :mod:`.generate`: :func:`disd_generate`, batched DISD (and SD, multi-draft DISD) on any two
  transformers causal LMs, also usable as ``custom_generate``;
* :mod:`.compat`: the model call for today's and tomorrow's transformers.

The names that need transformers at import (:class:`KeyedRace`, :func:`disd_generate`, ...)
load on first use, so importing this package loads neither torch nor transformers.

Decoders over one shared draft-and-verify loop:

* :mod:`.autoregressive`: the target alone, one public-randomness sample per position (the
  reference that DISD reproduces token for token).
* :mod:`.standard`: Leviathan et al. speculative decoding (ratio test, residual resampling), with
  its own, separately keyed randomness.
* :mod:`.disd`: drafter-invariant speculative decoding with Gumbel or WMH coupling: accept iff
  the draft equals the target's own communication-free sample.
* :mod:`.multidraft`: multi-draft DISD (K draft chains, one batched target pass), strongly or
  conditionally drafter-invariant.

Each target pass is verified by one ``verify_block`` call of the rule. Every rule and decoder
takes ``backend`` (``"auto"``, ``"numba"``, ``"torch"``): where the random choices are drawn;
``auto`` keeps tensors on an accelerator and uses numba on the CPU. The reference, the drafter
and the target of one run share one backend.
"""

from coupling.decoding._loop import (
    BACKENDS,
    KEY_CONVENTION,
    DecodeResult,
    DecodeStats,
    decode,
    token_key,
)
from coupling.decoding.autoregressive import (
    REFERENCE_COUPLINGS,
    autoregressive,
    reference_rule,
)
from coupling.decoding.disd import DisdRule, disd
from coupling.decoding.lm import CachedLM
from coupling.decoding.methods import (
    METHODS,
    MULTIDRAFT_METHODS,
    check_method,
    run_method,
)
from coupling.decoding.multidraft import (
    MultiDraftRule,
    check_drafts,
    decode_multidraft,
    multidraft,
)
from coupling.decoding.sampling import SamplingConfig
from coupling.decoding.standard import StandardRule, standard_sd

#: Names loaded on first use (their modules import transformers).
_LAZY = {
    "KeyedRace": "coupling.decoding.keyed_race",
    "DisdGenerateOutput": "coupling.decoding.generate",
    "GENERATE_METHODS": "coupling.decoding.plan",
    "disd_custom_generate": "coupling.decoding.generate",
    "disd_generate": "coupling.decoding.generate",
}

__all__ = [
    "BACKENDS",
    "GENERATE_METHODS",
    "KEY_CONVENTION",
    "METHODS",
    "MULTIDRAFT_METHODS",
    "REFERENCE_COUPLINGS",
    "CachedLM",
    "DecodeResult",
    "DecodeStats",
    "DisdGenerateOutput",
    "DisdRule",
    "KeyedRace",
    "MultiDraftRule",
    "SamplingConfig",
    "StandardRule",
    "autoregressive",
    "check_drafts",
    "check_method",
    "decode",
    "decode_multidraft",
    "disd",
    "disd_custom_generate",
    "disd_generate",
    "multidraft",
    "reference_rule",
    "run_method",
    "standard_sd",
    "token_key",
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
