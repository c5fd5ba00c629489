"""One dispatch from a decoding-method name to its decoder (the CLI and the experiments)."""

from paper_repro.decoders.autoregressive import autoregressive
from paper_repro.decoders.disd import COUPLINGS, disd
from paper_repro.decoders.standard import standard_sd

__all__ = ["METHODS", "check_method", "run_method"]

#: Decoding methods: the reference, standard SD, and DISD with either coupling.
METHODS = ("autoregressive", "sd", "disd-gumbel", "disd-wmh")


def check_method(method, coupling="gumbel"):
    """Refuse an unknown method or coupling (before any model is loaded)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if coupling not in COUPLINGS:
        raise ValueError(f"unknown coupling {coupling!r}; choose from {', '.join(COUPLINGS)}")


def run_method(method, target, drafter, prompt_ids, *, seed, gamma, max_new_tokens, sampling,
               coupling="gumbel", eos_token_id=None, backend="auto"):  # fmt: skip
    """Decode with ``method`` in :data:`METHODS`; returns a :class:`DecodeResult`.

    ``coupling`` is the sampler of ``autoregressive`` (DISD's is in its method name);
    ``drafter`` and ``gamma`` are ignored by ``autoregressive``; ``backend`` is where the
    random choices are drawn (see :data:`~paper_repro.decoders.BACKENDS`).
    """
    check_method(method, coupling)
    common = {"seed": seed, "max_new_tokens": max_new_tokens, "sampling": sampling,
              "eos_token_id": eos_token_id, "backend": backend}  # fmt: skip
    if method == "autoregressive":
        return autoregressive(target, prompt_ids, coupling=coupling, **common)
    if drafter is None:
        raise ValueError(f"method {method!r} needs a drafter")
    if method == "sd":
        return standard_sd(target, drafter, prompt_ids, gamma=gamma, **common)
    return disd(target, drafter, prompt_ids, gamma=gamma, coupling=method.split("-")[1], **common)
