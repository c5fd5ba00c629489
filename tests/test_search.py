"""Adversarial search: finds what theory says is there, and re-checks what it reports."""

import numpy as np
import pytest

from simulate.search import OBJECTIVES, search

FAST = {"maxiter": 25, "popsize": 8, "local_starts": 1}


def test_worst_case_is_reached_at_a_target_distance():
    """min Gumbel at D = 0.5 is (1-D)/(1+D) = 1/3 (attained by k-set pairs)."""
    r = search("gumbel-min", 3, seed=0, D=0.5, maxiter=150, local_starts=2)
    assert r.values["D"] == pytest.approx(0.5, abs=2e-3)
    assert r.values["gumbel"] >= r.values["worst_case"] - 1e-9
    assert r.values["gumbel"] - r.values["worst_case"] < 5e-3


def test_reported_optimum_is_rechecked():
    r = search("pareto-max", 3, seed=1, **FAST)
    assert r.sense == "max" and r.value > 0.05  # Gumbel strictly beats WMH somewhere
    assert r.quadratic_gumbel == pytest.approx(r.values["gumbel"], rel=1e-12)
    for _, _, z in r.mc.values():
        assert abs(z) < 5
    assert r.p.sum() == pytest.approx(1) and r.q.sum() == pytest.approx(1)


def test_pareto_min_finds_no_counterexample():
    r = search("pareto-min", 4, seed=2, D=0.6, **FAST)
    assert r.value >= -1e-12, f"PARETO COUNTEREXAMPLE p={r.p.tolist()} q={r.q.tolist()}"


def test_user_expression_and_callable():
    r = search("max:optimal - gumbel", 3, seed=0, **FAST)
    assert r.sense == "max" and r.value > 0
    r = search(lambda p, q: float(np.abs(p - q).sum()), 3, seed=0, **FAST)
    assert r.value < 1e-6  # identical pairs minimise the L1 distance


@pytest.mark.parametrize(
    ("objective", "kwargs", "match"),
    [
        ("gumbel +", {}, "neither a known name"),
        ("__import__('os')", {}, "may be called"),
        ("gumbel", {"D": 1.5}, "D must lie"),
    ],
)
def test_bad_objectives(objective, kwargs, match):
    with pytest.raises(ValueError, match=match):
        search(objective, 3, seed=0, **FAST, **kwargs)


def test_named_objectives_compile():
    for name in OBJECTIVES:
        assert search(name, 2, seed=0, maxiter=2, popsize=4, local_starts=0).objective == name
