"""One dispatch from a decoding-method name to its decoder (the CLI and the experiments)."""

from coupling.decoding.autoregressive import REFERENCE_COUPLINGS, autoregressive
from coupling.decoding.disd import disd
from coupling.decoding.multidraft import check_drafts, multidraft
from coupling.decoding.standard import standard_sd

__all__ = ["METHODS", "MULTIDRAFT_METHODS", "check_method", "run_method"]

#: Multi-draft DISD, strongly or conditionally invariant: they take ``drafts`` (K).
MULTIDRAFT_METHODS = ("mdisd-strong", "mdisd-conditional")
#: Decoding methods: the reference, standard SD, DISD with either coupling, multi-draft DISD.
METHODS = ("autoregressive", "sd", "disd-gumbel", "disd-wmh", *MULTIDRAFT_METHODS)


def check_method(method, coupling="gumbel", drafts=None):
    """Refuse an unknown method or coupling, and a ``drafts`` that the method does not take
    or lacks (before any model is loaded)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if coupling not in REFERENCE_COUPLINGS:
        choices = ", ".join(REFERENCE_COUPLINGS)
        raise ValueError(f"unknown coupling {coupling!r}; choose from {choices}")
    takes = method in MULTIDRAFT_METHODS or (method == "autoregressive" and coupling == "gls")
    if takes and drafts is None:
        raise ValueError(f"method {method!r} needs drafts (the number of draft chains K)")
    if not takes and drafts is not None:
        raise ValueError(f"drafts applies to {', '.join(MULTIDRAFT_METHODS)} and the gls "
                         f"reference only, not to {method!r}")  # fmt: skip
    if takes:
        check_drafts(drafts)


def run_method(method, target, drafter, prompt_ids, *, seed, gamma, max_new_tokens, sampling,
               coupling="gumbel", eos_token_id=None, backend="auto", drafts=None):  # fmt: skip
    """Decode with ``method`` in :data:`METHODS`; returns a :class:`DecodeResult`.

    ``coupling`` is the sampler of ``autoregressive`` (DISD's is in its method name);
    ``drafter`` and ``gamma`` are ignored by ``autoregressive``; ``backend`` is where the
    random choices are drawn (see :data:`~coupling.decoding.BACKENDS`); ``drafts`` is K
    for the multi-draft methods (and for ``autoregressive`` with ``coupling="gls"``).
    """
    check_method(method, coupling, drafts)
    common = {"seed": seed, "max_new_tokens": max_new_tokens, "sampling": sampling,
              "eos_token_id": eos_token_id, "backend": backend}  # fmt: skip
    if method == "autoregressive":
        return autoregressive(target, prompt_ids, coupling=coupling, drafts=drafts, **common)
    if drafter is None:
        raise ValueError(f"method {method!r} needs a drafter")
    if method == "sd":
        return standard_sd(target, drafter, prompt_ids, gamma=gamma, **common)
    if method in MULTIDRAFT_METHODS:
        return multidraft(target, drafter, prompt_ids, gamma=gamma, drafts=drafts,
                          variant=method.split("-")[1], **common)  # fmt: skip
    return disd(target, drafter, prompt_ids, gamma=gamma, coupling=method.split("-")[1], **common)
