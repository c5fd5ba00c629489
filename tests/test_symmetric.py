"""Claim 5 for symmetric protocols: the counting proof, every choice function, the branch and
bound against plain enumeration and against the asymmetric optimum, and planted bounds."""

from fractions import Fraction
from math import comb

import pytest
from coupling.proofs.lp_pricing import best_response_value
from coupling.proofs.symmetric import (
    _agreeing,
    _enumerate_optimum,
    _family,
    counting_steps,
    one_out_optimum,
    symmetric_optimum,
    verify_symmetric_optimality,
)


def test_counting_steps_hold_symbolically():
    assert all(counting_steps().values())
    assert not counting_steps(lambda d: 1 - d)["bound under test = (k-1)/(k+1)"]


@pytest.mark.parametrize("k", range(1, 7))
def test_every_choice_function_at_d_one_over_k(k):
    opt, h = one_out_optimum(k)
    assert opt == Fraction(k - 1, k + 1)
    assert all(h[y] != y for y in range(k + 1))
    classes = [h.count(x) for x in range(k + 1)]
    assert Fraction(sum(c * (c - 1) // 2 for c in classes), comb(k + 1, 2)) == opt
    minhash = [1] + [0] * k  # output the first item of U \\ {y}
    assert sum(minhash.count(x) * (minhash.count(x) - 1) // 2 for x in (0, 1)) == comb(k, 2)


@pytest.mark.parametrize(
    ("n", "k", "overlap"), [(3, 2, 1), (4, 2, 1), (4, 2, 0), (5, 2, 1), (5, 2, 0), (4, 3, 2),
                            (5, 3, 1), (5, 3, 2)]
)  # fmt: skip
def test_branch_and_bound_equals_enumeration(n, k, overlap):
    best, _ = _enumerate_optimum(n, k, overlap)
    r = symmetric_optimum(n, k, overlap)
    assert r.agreeing == best
    sets, adjacent = _family(n, k, overlap)
    assert _agreeing(sets, adjacent, r.choice) == best  # the returned h reaches it
    assert all(x in s for s, x in zip(sets, r.choice))
    assert r.optimum == Fraction(best, r.pairs) >= r.minhash


@pytest.mark.parametrize(("n", "k", "overlap"), [(4, 2, 1), (5, 2, 1), (5, 3, 1), (5, 3, 2)])
def test_symmetric_never_beats_the_asymmetric_optimum(n, k, overlap):
    asym, _, _ = best_response_value(n, k, {overlap: 1})
    assert symmetric_optimum(n, k, overlap).optimum <= asym


@pytest.mark.parametrize("k", [3, 4])
def test_overlap_one_on_2k_minus_1_items_is_a_matching(k):
    """m = k - 1: two (k-1)-sets of U \\ {x} (2k - 2 items) are disjoint only if complementary,
    so each class agrees on a matching: at most floor(N/2) pairs, and a near-perfect matching
    of the odd graph reaches it. The symmetric bound fails there for every k >= 3."""
    n_sets = comb(2 * k - 1, k)
    r = symmetric_optimum(2 * k - 1, k, 1)
    assert r.agreeing == n_sets // 2 and r.pairs == n_sets * k // 2
    assert r.optimum > r.minhash == Fraction(1, 2 * k - 1)


def test_certificate_is_proved_and_reports_the_extension():
    cert = verify_symmetric_optimality(ks=(1, 2, 3, 4))
    assert cert.verdict == "proved" and all(cert.detail["steps"].values())
    table = {(r["k"], r["m"]): r for r in cert.detail["extension"]}
    assert table[(4, 2)]["holds"] and table[(5, 2)]["holds"]
    assert table[(3, 2)]["optimum"] == "1/3" and table[(4, 3)]["optimum"] == "17/70"
    found = {(r["k"], r["m"]) for r in cert.detail["extension_counterexamples"]}
    assert found == {(3, 2), (4, 3)}
    witness = next(r for r in cert.detail["extension_counterexamples"] if r["k"] == 3)["choice"]
    assert all(x in s for s, x in witness)


@pytest.mark.parametrize(
    ("bound", "k", "direction"),
    [(lambda d: 1 - d, 2, "below"), (lambda d: 1 - 2 * d, 1, "beats"),
     (lambda d: (1 - d) / (1 + d) + d**3 * (1 - d) * (1 - 2 * d), 3, "below")],
)  # fmt: skip
def test_wrong_bounds_are_refuted(bound, k, direction):
    cert = verify_symmetric_optimality(bound, ks=(1, 2, 3, 4), extension=())
    assert cert.verdict == "refuted" and cert.counterexample["k"] == k
    assert direction in cert.counterexample["why"]


def test_bad_input():
    with pytest.raises(ValueError, match="no two distinct"):
        symmetric_optimum(5, 3, 0)
    with pytest.raises(TypeError, match="must be ints"):
        symmetric_optimum(5, 3.0, 1)
    with pytest.raises(ValueError, match="k must be an int"):
        one_out_optimum(0)
