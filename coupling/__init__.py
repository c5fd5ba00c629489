"""Communication-free coupling and drafter-invariant speculative decoding.

Daliri, Musco and Suresh, "Coupling without Communication and Drafter-Invariant Speculative
Decoding", arXiv:2408.07978. The public API lives here; the parts are subpackages:

- :mod:`coupling.simulate`: protocols, public randomness, exact values, Monte Carlo, list
  coupling, communication, families, sweeps and search;
- :mod:`coupling.proofs`: the theorem certificates (``coupling prove``);
- :mod:`coupling.decoding`: the decoding engine (DISD, speculative and multi-draft decoders,
  the sampling rules, the cached causal LM);
- :mod:`coupling.paper_repro`: the default model, the drafters and the paper's experiments;
- :mod:`coupling.figures`, :mod:`coupling.reports`, :mod:`coupling.outputs`: figures, the
  report writer and file output; :mod:`coupling.cli`: the ``coupling`` command.

Every name below loads on first use, so ``import coupling`` and a sampler call import neither
torch nor transformers; the decoding API (``coupling.KeyedRace``, ``coupling.disd_generate``)
loads them when it is used.

>>> import coupling
>>> p, q = [0.5, 0.3, 0.2], [0.4, 0.4, 0.2]
>>> coupling.gumbel_sample(p, seed=1, key=17) == coupling.gumbel_sample(q, seed=1, key=17)
True
>>> round(coupling.collision_probability(p, q, "gumbel"), 6)
0.881818
"""

import importlib

#: Where each public name is defined (module -> names); ``__all__`` is their sorted union.
_EXPORTS = {
    "coupling.simulate.randomness": ("DOMAINS", "domain_tag", "uniform"),
    "coupling.simulate.protocols": (
        "gumbel_sample",
        "independent_sample",
        "inverse_cdf_sample",
        "optimal_coupling_sample",
        "wmh_darts_sample",
        "wmh_sample",
    ),
    "coupling.simulate.exact": (
        "LIST_PROTOCOLS",
        "PROTOCOLS",
        "GapSplit",
        "collision_probability",
        "gap_split",
        "gumbel_collision",
        "gumbel_lower_bound",
        "independent_collision",
        "per_item_collision",
        "tv_distance",
        "weighted_jaccard",
        "wmh_collision",
        "wmh_joint_law",
        "worst_case_bound",
    ),
    "coupling.simulate.montecarlo": (
        "ENGINES",
        "EstimateResult",
        "estimate",
        "sample_pairs",
        "wilson_interval",
    ),
    "coupling.simulate.multidraft": (
        "GLSColumns",
        "GLSSample",
        "ListMatching",
        "gls_columns",
        "gls_drafts",
        "gls_pick",
        "gls_sample",
        "gls_target",
        "list_matching",
        "list_matching_bound",
        "list_matching_probability",
    ),
    "coupling.simulate.exact_marginal": (
        "InteractiveLaw",
        "QuantizedLaw",
        "interactive_exact",
        "interactive_sample",
        "quantized_exact",
        "quantized_sample",
    ),
    "coupling.simulate.communication": ("RelayLaw", "relay_exact", "relay_pairs"),
    "coupling.simulate.families": ("FAMILIES", "DistributionPair", "make_pair"),
    "coupling.decoding": (
        "GENERATE_METHODS",
        "CachedLM",
        "DisdGenerateOutput",
        "KeyedRace",
        "SamplingConfig",
        "autoregressive",
        "disd",
        "disd_custom_generate",
        "disd_generate",
        "multidraft",
        "standard_sd",
        "token_key",
    ),
}
_SUBPACKAGES = (
    "cli", "decoding", "figures", "outputs", "paper_repro", "proofs", "reports", "simulate"
)
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name):
    module = _WHERE.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_SUBPACKAGES))
