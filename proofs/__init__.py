"""Machine-checked certificates for the theorems of the brief (section 3).

Each certificate is a function returning a :class:`~coupling.proofs._core.Certificate` with a
verdict ``proved``, ``verified``, ``refuted`` or ``failed``; each takes the formula or bound under
test as an argument so a wrong one can be fed in and seen to fail. ``CLAIMS`` maps the names used by
``coupling prove --claim NAME`` to them.
"""

from coupling.proofs._core import VERDICTS, Certificate
from coupling.proofs.chain import verify_chain
from coupling.proofs.communication import verify_communication
from coupling.proofs.disd_exact import verify_disd_exact
from coupling.proofs.gumbel_formula import verify_gumbel_formula
from coupling.proofs.lp_optimality import FULL_INSTANCES, MILP_INSTANCES, verify_lp_optimality
from coupling.proofs.multidraft import verify_list_matching
from coupling.proofs.multidraft_exact import verify_multidraft_exact
from coupling.proofs.optimality import verify_optimality
from coupling.proofs.pareto import verify_pareto
from coupling.proofs.symmetric import FULL_EXTENSION, FULL_KS, verify_symmetric_optimality
from coupling.proofs.wmh_formula import verify_wmh_formula

__all__ = ["CLAIMS", "CLAIM_OPTIONS", "VERDICTS", "Certificate", "run_claims"]


def _pareto(full):
    if full:
        return verify_pareto(
            grids=((2, 48), (3, 12), (4, 8)), search_sizes=(3, 4, 6, 8, 12), maxiter=60
        )
    return verify_pareto()


CLAIMS = {
    "gumbel-formula": lambda full: verify_gumbel_formula(random_pairs=2000 if full else 300),
    "wmh-formula": lambda full: verify_wmh_formula(sizes=(2, 3, 4) if full else (2, 3)),
    "inequality-chain": lambda full: verify_chain(
        grids=((3, 8), (4, 6), (5, 4)) if full else ((3, 6), (4, 4))
    ),
    "pareto": _pareto,
    "lp-optimality": lambda full: (
        verify_lp_optimality(instances=FULL_INSTANCES, milp_instances=MILP_INSTANCES)
        if full
        else verify_lp_optimality()
    ),
    "symmetric-optimality": lambda full: (
        verify_symmetric_optimality(ks=FULL_KS, extension=FULL_EXTENSION)
        if full
        else verify_symmetric_optimality()
    ),
    "communication": lambda full: (
        verify_communication(
            dyadic_grids=((2, 32), (3, 16), (4, 8)), grids=((2, 8), (3, 6)), mc_trials=100_000
        )
        if full
        else verify_communication()
    ),
    "disd-exact": lambda full: verify_disd_exact(denominator=12 if full else 6),
    "multidraft-exact": lambda full: verify_multidraft_exact(denominator=4 if full else 3),
    "optimality": lambda full, **options: verify_optimality(full=full, **options),
    "list-matching": lambda full: (
        verify_list_matching(
            symbolic_sizes=(2, 3),
            denominator=6,
            drafts=(1, 2, 3, 4, 8),
            random_pairs=100,
            random_sizes=(4, 5, 6),
        )
        if full
        else verify_list_matching()
    ),
}


#: The claims that take options (``run_claims(options=...)``), and which.
CLAIM_OPTIONS = {"optimality": ("deltas", "eps")}


def run_claims(names=None, *, full=False, progress=None, options=None):
    """Run the named claims (all by default) and return their certificates, in order.

    ``options`` maps a claim of :data:`CLAIM_OPTIONS` to keyword arguments for it (the
    optimality claim's extraction: ``{"optimality": {"deltas": (0.3,), "eps": 0.02}}``); a
    claim given options must be among those run."""
    names = list(CLAIMS) if names is None else list(names)
    for name in names:
        if name not in CLAIMS:
            raise ValueError(f"unknown claim {name!r}; choose from {', '.join(CLAIMS)}")
    options = options or {}
    for name, kwargs in options.items():
        if name not in names:
            raise ValueError(f"options for claim {name!r}, which is not among those run")
        unknown = set(kwargs) - set(CLAIM_OPTIONS.get(name, ()))
        if unknown:
            raise ValueError(f"claim {name!r} takes no option {', '.join(sorted(unknown))}")
    results = []
    for name in names:
        results.append(CLAIMS[name](full, **options.get(name, {})))
        if progress:
            progress(1)
    return results
