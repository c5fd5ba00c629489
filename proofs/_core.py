"""Certificate results, exact-arithmetic helpers shared by the claims."""

import time
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from itertools import combinations_with_replacement

__all__ = ["VERDICTS", "Certificate", "compositions", "grid_distributions", "timed"]

VERDICTS = ("proved", "verified", "refuted", "failed")


@dataclass
class Certificate:
    """What a certificate function established.

    verdict: ``proved`` (a symbolic or exact argument covers every case), ``verified`` (checked
    on ``cases`` finite instances, no counterexample), ``refuted`` (``counterexample`` holds one),
    ``failed`` (the check could not be carried out, see ``detail``).
    """

    claim: str
    method: str
    verdict: str
    cases: int = 0
    seconds: float = 0.0
    detail: dict = field(default_factory=dict)
    counterexample: object = None
    path: str = ""

    def as_dict(self):
        return asdict(self)


def timed(func):
    """Fill ``seconds`` of the returned Certificate."""

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        cert = func(*args, **kwargs)
        cert.seconds = time.perf_counter() - start
        return cert

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


def compositions(total, parts):
    """All tuples of ``parts`` nonnegative ints summing to ``total``."""
    for cuts in combinations_with_replacement(range(total + 1), parts - 1):
        bounds = (0, *cuts, total)
        yield tuple(bounds[k + 1] - bounds[k] for k in range(parts))


def grid_distributions(n, denominator):
    """Every distribution on n items with probabilities in (1/denominator) Z, as Fractions."""
    return [tuple(Fraction(c, denominator) for c in comp)
            for comp in compositions(denominator, n)]  # fmt: skip
