"""The optimality claim: every step holds, and each fails on a planted wrong statement; the
exact type search against a plain brute force and against the LP certificate."""

import json
from fractions import Fraction
from itertools import combinations, product
from math import comb

import numpy as np
import pytest
import sympy as sp
from coupling.proofs import run_claims
from coupling.proofs.lp_model import solve_family
from coupling.proofs.optimality import local_optimum, type_optimum, verify_optimality
from coupling.proofs.optimality_bounds import CLOSED_FORMS
from coupling.proofs.optimality_checks import (
    check_blow_up,
    check_extraction,
    check_lemma_cs,
    check_lemma_l,
    check_lp_agreement,
    check_theorem_a,
    check_theorem_b,
    check_theorem_c,
)
from coupling.proofs.optimality_extract import extract_pair, pair_bound, plan_extraction
from coupling.proofs.optimality_search import (
    brute_force_optimum,
    independent_optimum,
    type_search,
)
from coupling.proofs.optimality_sums import (
    binomial_polynomial,
    expected_jaccard,
    sum_of_squares,
    weight_identity,
)
from coupling.proofs.optimality_theorem_a import chain_steps, random_profiles

from coupling.cli import main

TINY = {
    "local": ((2, 1), (3, 1), (3, 2), (4, 1)),
    "families": ((2, 1, 3), (2, 1, 4), (2, 1, 5), (3, 2, 5)),
    "beyond": ((5, 3),),
    "beyond_nodes": 0,
    "optimum_sizes": ((3, 1), (4, 2)),
    "lp": ((2, 1, 4),),
}


def _rows(specs):
    out = []
    for spec in specs:
        r = type_search(*spec)
        out.append({"k": r.k, "m": r.m, "n": r.n, "optimum": str(r.optimum), "finished": True})
    return out


def wrong_weight(n, K, t):
    """C(n-t, K)/C(n, K): the tail probability, not the point probability."""
    if all(isinstance(v, int) for v in (n, K, t)):
        return Fraction(comb(n - t, K), comb(n, K))
    return binomial_polynomial(n - t, K) / binomial_polynomial(n, K)


# --- the exact search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec", [(2, 1), (2, 1, 4), (2, 1, 5), (2, 1, 6), (3, 1), (3, 1, 5), (4, 1), (3, 2)]
)
def test_search_equals_plain_brute_force(spec):
    r = type_search(*spec)
    assert r.finished and r.optimum == r.upper == brute_force_optimum(*spec)


def test_search_witness_recounts_independently():
    """The returned f and g (lexicographic k-subsets) agree on exactly ``agreeing`` pairs."""
    for spec, nodes in (((2, 1, 5), 10**9), ((3, 2, 6), 10**9), ((4, 3), 10**9), ((5, 3), 0)):
        r = type_search(*spec, max_nodes=nodes)
        k, m, n = r.k, r.m, r.n
        sets = list(combinations(range(n), k))
        assert all(x in S for S, x in zip(sets, r.f)) and all(x in S for S, x in zip(sets, r.g))
        hits = sum(r.f[s] == r.g[t] for s in range(len(sets)) for t in range(len(sets))
                   if len(set(sets[s]) & set(sets[t])) == k - m)  # fmt: skip
        assert hits == r.agreeing and Fraction(hits, r.pairs) == r.optimum
    assert r.optimum > Fraction(1, 4)  # (5, 3): an exact pair of maps beats (k - m)/(k + m)


def test_local_optima_the_note_proves():
    # Theorem B: (k - 1)/(k + 1) for k >= 3; k = 2 is the exception (cyclic maps)
    assert [local_optimum(k, 1) for k in range(2, 7)] == [
        Fraction(1, 2),
        Fraction(1, 2),
        Fraction(3, 5),
        Fraction(2, 3),
        Fraction(5, 7),
    ]
    # overlap one on 2k - 1 points: a perfect matching of (k-1)-sets to k-sets gives 1/k
    assert [local_optimum(k, k - 1) for k in (2, 3, 4)] == [Fraction(1, k) for k in (2, 3, 4)]
    assert local_optimum(4, 2) == Fraction(1, 3)  # = (1 - D)/(1 + D) at D = 1/2


def test_type_optima_of_the_note():
    assert [type_optimum(2, 1, n) for n in range(3, 8)] == [
        Fraction(1, 2),
        Fraction(3, 8),
        Fraction(7, 20),
        Fraction(7, 20),
        Fraction(12, 35),
    ]
    assert [type_optimum(3, 1, n) for n in (4, 5, 6)] == [Fraction(1, 2)] * 3
    assert type_optimum(3, 2, 5) == Fraction(1, 3)


@pytest.mark.slow
def test_local_optimum_five_two():
    assert local_optimum(5, 2) == Fraction(3, 7)  # about 4 million nodes


def test_search_stopped_short_gives_a_bracket_and_a_witness():
    r = type_search(5, 3, max_nodes=0)  # the local search's witness only
    assert not r.finished and r.optimum <= r.upper
    assert r.optimum > r.bound == Fraction(1, 4)  # beats (k - m)/(k + m) at overlap 2
    with pytest.raises(RuntimeError, match="stopped after"):
        local_optimum(5, 3, max_nodes=10)
    seen = []
    r = type_search(4, 2, max_nodes=50_000, progress=seen.append)
    assert sum(seen) == r.nodes <= 50_000 + 1
    assert r.optimum <= Fraction(1, 3) <= r.upper


@pytest.mark.parametrize(("args", "error"), [
    ((2, 2), ValueError), ((2, 0), ValueError), ((3, 1, 3), ValueError), ((2.0, 1), TypeError),
    ((2, 1, 70), ValueError)])  # fmt: skip
def test_search_bad_input(args, error):
    with pytest.raises(error):
        type_search(*args)


@pytest.mark.parametrize(("n", "k", "m"), [(4, 2, 1), (5, 2, 1), (5, 3, 1), (5, 3, 2), (6, 2, 1)])
def test_search_agrees_with_the_lp_certificate(n, k, m):
    lp = solve_family(n, k, [k - m])
    assert lp["lower"] == lp["upper"]  # the LP closed exactly
    assert lp["profile"][k - m] == type_optimum(k, m, n)


def test_lp_agreement_check():
    out = check_lp_agreement(_rows([(2, 1, 4), (3, 1, 5)]), ((2, 1, 4), (3, 1, 5), (3, 2, 5)))
    assert out.status == "proved" and len(out.detail["table"]) == 3
    planted = [{"k": 2, "m": 1, "n": 4, "optimum": "1/3", "finished": True}]
    assert check_lp_agreement(planted, ((2, 1, 4),)).status == "failed"


# --- Theorem A -------------------------------------------------------------------------------


def test_sum_of_squares_is_expected_jaccard_and_the_exact_optimum():
    assert all(sum_of_squares(n, K) == expected_jaccard(n, K)
               for n in range(2, 12) for K in range(1, n + 1))  # fmt: skip
    known = {
        (3, 1): Fraction(1, 3),
        (3, 2): Fraction(5, 9),
        (4, 2): Fraction(7, 18),
        (5, 2): Fraction(3, 10),
        (5, 3): Fraction(23, 50),
        (6, 2): Fraction(11, 45),
    }
    for (n, K), value in known.items():  # fmt: skip
        assert sum_of_squares(n, K) == value == independent_optimum(n, K)[0]


def test_independent_optimum_equals_brute_force():
    """Every map f, g by best response: sum_B max_{x in B} |f^-1(x)| / C(n, K)^2."""
    for n, K in ((4, 2), (5, 2), (4, 3), (6, 5)):
        sets = list(combinations(range(n), K))
        best = max(sum(max(f.count(x) for x in B) for B in sets) for f in product(*sets))
        assert independent_optimum(n, K)[0] == Fraction(best, len(sets) ** 2)


def test_theorem_a_proved_and_a_wrong_weight_fails():
    small = {"ks": range(1, 5), "lengths": range(1, 5), "chain_sizes": ((5, 2),),
             "vectors": 4, "optimum_sizes": ((4, 2),)}  # fmt: skip
    assert check_theorem_a(**small).status == "proved"
    assert not all(weight_identity(3, wrong_weight).values())
    bad = check_theorem_a(wrong_weight, **small)
    assert bad.status == "refuted"  # the exact optimum differs from the claimed sum
    assert "does not hold" not in bad.detail or bad.detail["does not hold"]


def test_chain_links_and_the_planted_violation():
    rng = np.random.default_rng(3)
    laws = random_profiles(6, 3, 6, rng)
    for alpha, beta in zip(laws[::2], laws[1::2]):
        links, agreement, bound = chain_steps(alpha, beta, 6, 3)
        assert all(links.values()) and agreement <= bound
    point = [Fraction(int(x == 2)) for x in range(6)]
    links, agreement, bound = chain_steps(point, point, 6, 3)
    assert not links["prefix sums of a within W"] and agreement == 1 > bound


# --- extraction ------------------------------------------------------------------------------


def test_extraction_is_exact_and_rechecked():
    r = extract_pair("3/10", "1/20")
    assert r.certified and r.agreement <= r.target + r.eps
    assert 0 < r.tv_range[0] <= r.tv_range[1] <= r.delta == Fraction(3, 10)
    squares, good = pair_bound(r.n, r.K, *r.overlap_range)
    assert squares == r.expected_jaccard == sum_of_squares(r.n, r.K)
    assert good == r.good and r.agreement == squares / good
    # the window is as narrow as the exact sums allow (within the guide's margin)
    narrower = pair_bound(r.n, r.K, r.overlap_range[0], r.overlap_range[1] - 4)
    assert narrower[0] / narrower[1] > r.target + r.eps


def test_extraction_check_and_a_wrong_weight():
    assert check_extraction((Fraction(1, 5), Fraction(7, 10)), Fraction(1, 10)).status == "proved"
    bad = check_extraction((Fraction(1, 2),), Fraction(1, 10), wrong_weight)
    assert bad.status == "failed"


@pytest.mark.parametrize(("delta", "eps", "message"), [
    (0, 0.1, "delta must lie in"), (1, 0.1, "delta must lie in"), (0.5, 0.001, "eps must lie"),
    ("x", 0.1, "finite number"), (0.99, 0.01, "exact sums stop")])  # fmt: skip
def test_extraction_refuses_before_work(delta, eps, message):
    with pytest.raises(ValueError, match=message):
        plan_extraction(delta, eps)


# --- Theorem B, Lemma L, Lemma CS, Theorem C, blow-up -----------------------------------------


def test_theorem_b_and_planted_statements():
    local = _rows([(3, 1), (4, 1)])
    quick = {"enumerated": (3,), "sampled": (5,), "samples": 2000}
    assert check_theorem_b(None, local, **quick).status == "proved"
    low = check_theorem_b(lambda k: k * (k - 1) - 1, local, **quick)
    assert low.status == "refuted" and low.detail["counterexample"]["agreeing"] == 6
    cyclic = ((1, 2, 0), (2, 0, 1))  # k = 2: 3 agreeing pairs > k(k - 1) = 2
    broken = check_theorem_b(None, local, tables=[cyclic], **quick)
    assert broken.status == "refuted" and broken.detail["counterexample"]["agreeing"] == 3


def test_lemma_l_and_a_wrong_local_value():
    local, families = _rows([(2, 1), (3, 1)]), _rows([(2, 1, 4), (2, 1, 5), (3, 1, 5)])
    assert check_lemma_l(local, families).status == "proved"
    bad = check_lemma_l(local, families, lambda k, m: Fraction(k - m, k + m))
    assert bad.status == "refuted" and bad.detail["counterexample"]["optimum"] == "3/8"


def test_lemma_cs_and_wrong_bounds():
    families = _rows([(2, 1, 4), (2, 1, 5)])
    assert check_lemma_cs(families, sizes=(4, 5), random_pairs=1).status == "proved"
    half = check_lemma_cs(families, lambda n: sp.Rational(1, 3) + 1 / (2 * (n - 2)),
                          sizes=(4,), random_pairs=1)  # fmt: skip
    assert half.status == "failed"
    flat = check_lemma_cs(families, lambda n: sp.Rational(1, 3), sizes=(4,), random_pairs=1)
    assert flat.status == "refuted"  # V(4) = 3/8


def test_theorem_c_and_a_wrong_closed_form():
    families = _rows([(2, 1, 5), (2, 1, 6)])
    assert check_theorem_c(families, random_pairs=1).status == "proved"
    n = sp.Symbol("n")
    wrong = {**CLOSED_FORMS, 2: (2 * n - 1) / (6 * (n - 1))}
    bad = check_theorem_c(families, wrong, random_pairs=1)
    assert bad.status == "failed" and "k = 2: B_k(n) = stated closed form" in bad.detail[
        "does not hold"]  # fmt: skip


def test_blow_up_and_a_wrong_projection():
    assert check_blow_up(((2, 1, 2),)).status == "proved"
    bad = check_blow_up(((2, 1, 2),), projection=lambda item: item[1])
    assert bad.status == "failed"


# --- the certificate and the command ---------------------------------------------------------


def test_certificate_is_proved_and_states_what_is_observed():
    cert = verify_optimality(deltas=(Fraction(1, 2),), eps=Fraction(1, 10), sizes=TINY)
    assert cert.verdict == "proved", cert.detail["statements"]
    statuses = {k: v["status"] for k, v in cert.detail["statements"].items()}
    assert set(statuses.values()) == {"proved"} and len(statuses) == 8
    observation = cert.detail["observations"]["overlap_at_least_two"]
    assert observation["status"] == "refuted"  # (5, 3): an exact pair of maps beats 1/4
    assert observation["refuted_by_exact_witness"][0].startswith("(5,3)")
    families = {(r["k"], r["m"], r["n"]): r for r in cert.detail["observations"]["families"]}
    assert families[(2, 1, 5)]["upper_bounds"] == {
        "Lemma L": "1/2", "Lemma CS": "2/3", "Theorem C": "1/2"}  # fmt: skip
    json.dumps(cert.as_dict())


def test_certificate_with_a_wrong_weight_is_not_proved():
    cert = verify_optimality(wrong_weight, deltas=(Fraction(1, 2),), eps=Fraction(1, 10),
                             sizes=TINY)  # fmt: skip
    assert cert.verdict == "refuted"
    assert cert.detail["statements"]["theorem-A"]["status"] == "refuted"


def test_run_claims_options_are_checked():
    with pytest.raises(ValueError, match="not among those run"):
        run_claims(["pareto"], options={"optimality": {"eps": 0.1}})
    with pytest.raises(ValueError, match="takes no option"):
        run_claims(["optimality"], options={"optimality": {"delta": 0.1}})


def test_prove_prints_the_extracted_pair(tmp_path, capsys, monkeypatch):
    import coupling.proofs as proofs

    monkeypatch.setitem(proofs.CLAIMS, "optimality", lambda full, **options: verify_optimality(
        sizes=TINY, **options))  # fmt: skip
    rc = main(["prove", "--claim", "optimality", "--delta", "0.3", "--eps", "0.05",
               "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    line = next(x for x in out.splitlines() if x.startswith("optimality, delta = 3/10"))
    assert "eps = 1/20" in line and "TV in [" in line and "Pr[a = b] <= 0.58" in line
    assert {"optimality.json", "optimality_types.png", "local_optima.md"} <= {
        p.name for p in tmp_path.iterdir()}  # fmt: skip
    saved = json.loads((tmp_path / "optimality.json").read_text())
    assert saved["detail"]["statements"]["extraction"]["pairs"][0]["delta"] == "3/10"


@pytest.mark.parametrize(("argv", "message"), [
    (["--claim", ""], "--claim is empty"),
    (["--claim", "pareto", "--delta", "0.3"], "--delta applies to the optimality claim"),
    (["--claim", "pareto", "--eps", "0.1"], "--eps applies to the optimality claim"),
    (["--claim", "optimality", "--delta", "1.5"], "--delta must lie in (0, 1)"),
    (["--claim", "optimality", "--delta", "nan"], "--delta must be a finite number"),
    (["--claim", "optimality", "--eps", "0.001"], "--eps must lie in [1/100, 1)"),
    (["--claim", "optimality", "--delta", "0.99", "--eps", "0.01"], "raise --eps")])  # fmt: skip
def test_prove_flags_refused(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["prove", *argv, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("coupling prove: error: ") and message in err
    assert "\n" not in err and not out.exists()


def test_report_section_renders(tmp_path):
    from coupling.reports._markdown import ReportData
    from coupling.reports.proofs import write_certificates, write_claim_figures
    from coupling.reports.report_proofs import optimality_certificate, optimality_lines

    cert = verify_optimality(deltas=(Fraction(1, 2),), eps=Fraction(1, 10), sizes=TINY)
    write_certificates([cert], tmp_path)
    write_claim_figures([cert], tmp_path)
    data = ReportData(root=tmp_path, certificates=[cert], proofs_dir=tmp_path)
    text = optimality_certificate(data)
    assert "Worst-case optimality for every protocol and every D: proved" in text
    assert "optimality_types.png" in text and "| 5 | 3 |" in text
    assert any(x.startswith("optimality, delta = 1/2") for x in optimality_lines(cert))
