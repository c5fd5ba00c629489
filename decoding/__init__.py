"""The decoding engine: drafter-invariant speculative decoding and its baselines.

What users call to decode lives here, beside (not inside) the paper's experiments in
:mod:`coupling.paper_repro`, which use it:

* :mod:`.sampling`: :class:`SamplingConfig`, how logits become the distribution both models
  are coupled on (temperature, top-k, top-p, greedy);
* :mod:`.lm`: :class:`CachedLM`, a causal LM behind a prefix-reusing KV cache.

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

from coupling.decoding._loop import BACKENDS, DecodeResult, DecodeStats, decode
from coupling.decoding.autoregressive import (
    REFERENCE_COUPLINGS,
    autoregressive,
    reference_rule,
)
from coupling.decoding.disd import DisdRule, disd
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
from coupling.decoding.standard import StandardRule, standard_sd

__all__ = [
    "BACKENDS",
    "METHODS",
    "MULTIDRAFT_METHODS",
    "REFERENCE_COUPLINGS",
    "DecodeResult",
    "DecodeStats",
    "DisdRule",
    "MultiDraftRule",
    "StandardRule",
    "autoregressive",
    "check_drafts",
    "check_method",
    "decode",
    "decode_multidraft",
    "disd",
    "multidraft",
    "reference_rule",
    "run_method",
    "standard_sd",
]
