"""Claim 6's certificate: what it certifies, planted wrong formulas, the trade-off figure."""

from fractions import Fraction

import numpy as np
import pytest
from coupling.figures.communication import communication_tradeoff_figure
from coupling.proofs.communication import (
    METHOD,
    OPEN,
    STATEMENTS,
    interactive_agreement,
    tradeoff_curves,
    verify_communication,
)
from coupling.simulate.communication import relay_exact
from coupling.simulate.exact_marginal import quantize

SMALL = {
    "dyadic_grids": ((2, 4), (3, 2)),
    "grids": ((2, 4),),
    "bits_per_entry": (1, 2),
    "extras": (0, 1),
    "mc_trials": 4_000,
}


def test_certificate_names_each_statement_and_the_open_one():
    cert = verify_communication(**SMALL)
    assert cert.verdict == "verified"
    statements = cert.detail["statements"]
    assert set(statements) == set(STATEMENTS.values())
    assert statements[STATEMENTS["interactive-law"]]["status"] == "proved"
    assert all(v["status"] == "verified" for k, v in statements.items() if "a ~ P" not in k)
    assert cert.detail["open"] == OPEN and "not claimed" in OPEN
    assert cert.method == METHOD and "Not one-way O(log(n/eps)): open" in METHOD
    rows = statements[STATEMENTS["kernels"]]["monte_carlo"]
    assert {r["n"] for r in rows} == {8, 1000} and all(r["ok"] for r in rows)


def wmh_like(p, q):  # (1 - D)/(1 + D): the communication-free bound, not the interactive value
    D = 1 - interactive_agreement(p, q)
    return (1 - D) / (1 + D)


def quantized_off(p, q, k):  # forgets the chance collisions of Bob's independent draw
    f = [Fraction(c, 2**k) for c in quantize(p, k)]
    return sum(min(x, sum(f) * y) for x, y in zip(f, q))


def relay_off_by_one(p, q, *, extra):  # f = (1 + D)^-extra: forgets Alice's own dart
    return relay_exact(p, q, extra=max(extra - 1, 0) if extra else 1)


@pytest.mark.parametrize(
    ("planted", "statement"),
    [
        ({"interactive_formula": wmh_like}, "interactive-law"),
        ({"bits_overhead": 0}, "interactive-bits"),
        ({"quantized_formula": quantized_off}, "quantized"),
        ({"relay_formula": relay_off_by_one}, "relay"),
    ],
)
def test_planted_wrong_formula_is_refuted(planted, statement):
    cert = verify_communication(**{**SMALL, "mc_trials": 1_000}, **planted)
    assert cert.verdict == "refuted"
    assert cert.detail["statement"] == STATEMENTS[statement]
    assert cert.counterexample


def test_a_wrong_law_in_the_kernels_check_is_refuted():
    """The relay formula is right on the grids (n = 2) but wrong at n = 8: only the Monte
    Carlo of the kernels can see it."""

    def relay_wrong_for_large_n(p, q, *, extra):
        law = relay_exact(p, q, extra=extra)
        return law._replace(collision=law.collision + 0.05) if len(p) > 2 else law

    cert = verify_communication(**SMALL, relay_formula=relay_wrong_for_large_n)
    assert cert.verdict == "refuted"
    assert cert.detail["statement"] == STATEMENTS["kernels"]


def test_tradeoff_curves_are_consistent():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(50), size=2)
    (c,) = tradeoff_curves([("toy", p, q)], extras=(0, 3), ks=(2, 8))
    D = c["D"]
    assert c["interactive"]["agreement"] == pytest.approx(1 - D)
    assert c["interactive"]["bits"] < c["interactive"]["bits_bound"]
    assert all(x >= 1 - D - 1e-12 for x in c["relay"]["agreement"])
    assert all(x <= 1 - D + 1e-12 for x in c["quantized"]["agreement"])
    assert (1 - D) / (1 + D) - 1e-12 <= c["wmh"] <= c["gumbel"] <= 1 - D
    assert c["relay"]["bob_tv"][1] < c["relay"]["bob_tv"][0]


def test_tradeoff_figure_has_a_panel_per_pair():
    curves = tradeoff_curves(extras=(0, 2), ks=(4, 8))
    assert [c["label"] for c in curves][2:] == ["Zipf", "LLM-like softmax"]
    fig = communication_tradeoff_figure(curves)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 4
    assert all(ax.get_xscale() == "symlog" for ax in visible)
