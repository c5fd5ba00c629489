"""Every certificate reaches its verdict, and each fails when fed a wrong formula or bound."""

import json
from fractions import Fraction

import pytest
import sympy as sp
from coupling.proofs import VERDICTS
from coupling.proofs.chain import _steps, verify_chain
from coupling.proofs.communication import verify_communication
from coupling.proofs.disd_exact import verify_disd_exact
from coupling.proofs.exact_rational import gumbel_items_rational, tv_rational
from coupling.proofs.gumbel_formula import verify_gumbel_formula
from coupling.proofs.lp_model import solve_family
from coupling.proofs.lp_optimality import verify_lp_optimality
from coupling.proofs.lp_pricing import best_response_value
from coupling.proofs.pareto import verify_pareto, wmh_item
from coupling.proofs.wmh_formula import verify_wmh_formula, wmh_closed_form

from coupling.cli import main


def test_gumbel_formula_is_proved():
    cert = verify_gumbel_formula(random_pairs=100)
    assert cert.verdict == "proved"
    assert all(c["zero"] for c in cert.detail["symbolic_cases"])
    assert len(cert.detail["symbolic_cases"]) == 2 + 6  # every ratio order, n = 2 and 3


def test_gumbel_certificate_refutes_weighted_jaccard():
    def jaccard(p, q):
        return sp.Add(*map(sp.Min, p, q)) / sp.Add(*map(sp.Max, p, q))

    cert = verify_gumbel_formula(jaccard, sizes=(2,))
    assert cert.verdict == "refuted" and cert.counterexample["n"] == 2


def test_wmh_formula_is_proved_and_same_dart_form_is_refuted():
    assert verify_wmh_formula().verdict == "proved"

    def same_dart_for_both(p, q):
        _, same = wmh_closed_form(p, q)
        return same, same

    cert = verify_wmh_formula(same_dart_for_both, sizes=(2,))
    assert cert.verdict == "refuted" and cert.counterexample["part"] == "index-level"


def test_chain_is_proved_and_wrong_bounds_fail():
    cert = verify_chain()
    assert cert.verdict == "proved" and all(cert.detail["steps"].values())

    def too_big_bound(p, q):  # drops m_i from the denominator
        m = [min(a, b) for a, b in zip(p, q)]
        big = [max(a, b) for a, b in zip(p, q)]
        return sum((Fraction(mi) / (sum(big) - bi) for mi, bi in zip(m, big)
                    if mi > 0 and sum(big) > bi), Fraction(0))  # fmt: skip

    assert verify_chain(too_big_bound).verdict == "refuted"
    steps = _steps()
    d = sp.Symbol("D", nonnegative=True)
    steps["(1-D)/(1+D) >= 1-2D"] = ((1 - d) / (1 + d) - (1 - d), (d,))  # false: 1-D is larger
    assert verify_chain(steps=steps).verdict == "failed"


def test_pareto_is_proved_for_every_n_and_wrong_terms_fail():
    cert = verify_pareto(grids=((2, 12), (3, 6)))
    assert cert.verdict == "proved" and all(cert.detail["steps"].values())
    assert set(cert.detail["case_split"]) == {"p_i < q_i", "q_i = 0", "D = delta", "D > delta"}
    assert Fraction(cert.detail["grid_smallest_margin"]) == 0  # equality, e.g. at P = Q

    def doubled(p, q, d):  # the (q_i - m_i) p_i part counted twice
        m = sp.Min(p, q)
        return (m + (p - m) * q + 2 * (q - m) * p) / (1 + d)

    bad = verify_pareto(w_item=doubled, grids=((2, 12),))
    assert bad.verdict == "refuted" and Fraction(bad.counterexample["margin"]) < 0
    assert not bad.detail["steps"]["symmetry: W_i(P, Q) = W_i(Q, P)"]
    p = [Fraction(x) for x in bad.counterexample["p"]]
    q = [Fraction(x) for x in bad.counterexample["q"]]
    i = bad.counterexample["item"]
    assert doubled(p[i], q[i], tv_rational(p, q)) > gumbel_items_rational(p, q)[i]

    def too_small_gumbel(p, q, s):  # S_i + p_i q_i in place of S_i
        return p * q / (s + p * q)

    assert verify_pareto(too_small_gumbel, grids=((2, 12),)).verdict == "refuted"

    def halved(p, q, d):  # true that G_i >= it, but not the WMH term: the link fails
        return wmh_item(p, q, d) / 2

    half = verify_pareto(w_item=halved, grids=((2, 6),))
    assert half.verdict == "failed" and half.detail["link_failures"]


def test_pareto_search_is_supporting_evidence():
    cert = verify_pareto(grids=((2, 4),), search_sizes=(3,), maxiter=5)
    assert cert.verdict == "proved"
    assert cert.detail["search_smallest_item_margin"]["3"] > -1e-12


def test_prove_cli_json(tmp_path, capsys):
    rc = main(["prove", "--claim", "inequality-chain,wmh-formula", "--json",
               "--out", str(tmp_path)])  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert [r["claim"] for r in rows] == ["inequality-chain", "wmh-formula"]
    for r in rows:
        assert {"claim", "method", "verdict", "seconds"} <= set(r)
        assert r["verdict"] in VERDICTS
        assert json.loads((tmp_path / f"{r['claim']}.json").read_text())["verdict"] == r["verdict"]
    assert main(["prove", "--claim", "no-such-claim"]) == 2
    assert "unknown claim" in capsys.readouterr().err


def test_disd_exact_and_wrong_rules():
    cert = verify_disd_exact()
    assert cert.verdict == "proved"
    assert cert.detail["disd_outcomes_differing_between_drafters"] == 0
    assert verify_disd_exact(mismatch_emits_draft=True).verdict == "refuted"
    assert verify_disd_exact(sd_residual=lambda p, q: p).verdict == "refuted"


def _brute_force_optimum(n, k, overlap):
    """max over every pair of deterministic strategies of the fraction of ordered pairs of
    k-sets at ``overlap`` on which they agree (plain itertools, no symmetry, no pricing)."""
    from itertools import combinations, product

    sets = list(combinations(range(n), k))
    pairs = [(s, t) for s in range(len(sets)) for t in range(len(sets))
             if len(set(sets[s]) & set(sets[t])) == overlap]  # fmt: skip
    strategies = list(product(*sets))
    best = max(sum(f[s] == g[t] for s, t in pairs) for f in strategies for g in strategies)
    return Fraction(best, len(pairs))


def test_lp_optimality_closes_exactly_and_matches_brute_force():
    cert = verify_lp_optimality(instances=((3, 2), (4, 2), (4, 3)), cross_check=((3, 2),))
    assert cert.verdict == "proved"
    rows = {(r["n"], r["k"], r["overlap"]): r for r in cert.detail["table"]}
    for (n, k, ell), row in rows.items():
        assert row["exact"]
        assert Fraction(row["optimum"]) >= Fraction(ell, 2 * k - ell)  # MinHash is feasible
        if (n, k) != (4, 3):
            assert Fraction(row["optimum"]) == _brute_force_optimum(n, k, ell)
    for check in cert.detail["cross_check"]:
        assert abs(check["unsymmetrised"] - check["symmetrised"]) < 1e-7


def test_lp_optimality_refutes_one_minus_d():
    cert = verify_lp_optimality(lambda n, k, ell: Fraction(ell, k), instances=((4, 2),),
                                cross_check=())  # fmt: skip
    assert cert.verdict == "refuted"
    assert Fraction(cert.counterexample["optimum"]) < Fraction(cert.counterexample["bound"])


def test_lp_bad_input():
    with pytest.raises(ValueError, match="sets"):
        solve_family(9, 4)
    with pytest.raises(ValueError, match="2 <= k < n"):
        solve_family(3, 3)
    with pytest.raises(ValueError, match="overlap"):
        solve_family(4, 2, [0])
    with pytest.raises(ValueError, match="y >= 0"):
        best_response_value(4, 2, {1: -1})


def test_pricing_value_is_attained_and_bounds_the_optimum():
    """The pricing's maximiser attains its value (recounted from the pair), and by weak
    duality no mixture, the optimum included, beats it."""
    from coupling.proofs.lp_pricing import KSetFamily, strategy_profile

    y = {1: Fraction(1, 3), 2: Fraction(2, 5)}
    value, f, g = best_response_value(5, 3, y)
    profile = strategy_profile(KSetFamily(5, 3), f, g)
    assert value == sum(w * profile[ell] for ell, w in y.items())
    sol = solve_family(5, 3)
    assert sol["upper"] == sol["lower"]
    assert value >= sum(w * sol["profile"][ell] for ell, w in y.items())


def test_milp_matches_the_exact_lp_where_both_reach():
    from coupling.proofs.lp_model import milp_optimum

    for n, k, ell in ((5, 2, 1), (5, 3, 2)):
        r = milp_optimum(n, k, ell, time_limit=30)
        assert r["closed"]
        assert r["optimum"] == solve_family(n, k, [ell])["profile"][ell]
    with pytest.raises(ValueError, match="overlap"):
        milp_optimum(5, 3, 0)


def test_claim_figures_are_written(tmp_path):
    from coupling.reports.proofs import write_claim_figures

    certs = [verify_lp_optimality(instances=((3, 2), (4, 2)), cross_check=()),
             verify_communication(dyadic_grids=((2, 4),), grids=((2, 3),), extras=(0,),
                                  bits_per_entry=(1,), mc_trials=500)]  # fmt: skip
    paths = {p.name for p in write_claim_figures(certs, tmp_path)}
    assert {"lp_optimum.png", "lp_optimum.pdf", "lp_optimum.csv", "lp_optimum.md",
            "communication_tradeoff.png", "communication_tradeoff.pdf"} <= paths  # fmt: skip
    assert "| 4 | 2 | 1" in (tmp_path / "lp_optimum.md").read_text()


def test_branch_and_bound_pricing_equals_full_enumeration():
    """The pruned search and the plain enumeration of every strategy agree on random weights."""
    import numpy as np
    from coupling.proofs.lp_pricing import (
        KSetFamily,
        _neighbours,
        _price_bnb,
        _price_enumerate,
        best_response,
    )

    rng = np.random.default_rng(0)
    for n, k in ((4, 2), (5, 2), (5, 3), (6, 2), (6, 5)):
        fam = KSetFamily(n, k)
        for _ in range(3):
            weights = rng.integers(0, 7, size=k + 1).astype(np.int64)
            weights[k] = 0
            value, choice, _, finished = _price_bnb(fam.items, *_neighbours(fam, weights), n,
                                                    10**9, -1)  # fmt: skip
            assert finished
            assert value == _price_enumerate(fam.items, fam.overlap, weights, n)[0]
            f = [fam.sets[s][c] for s, c in enumerate(choice)]  # the maximiser attains it
            g = best_response(fam, f, weights)
            m = len(fam.sets)
            assert value == sum(weights[fam.overlap[s, t]] for s in range(m) for t in range(m)
                                if f[s] == g[t])  # fmt: skip
