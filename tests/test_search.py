"""Adversarial search: finds what theory says is there, and re-checks what it reports."""

import tracemalloc
from types import SimpleNamespace

import coupling.simulate.search as search_module
import numpy as np
import pytest
from coupling.simulate.search import OBJECTIVES, search, search_memory

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
        ("gumbel", {"D": 1.5}, "D must be <= 1"),
    ],
)
def test_bad_objectives(objective, kwargs, match):
    with pytest.raises(ValueError, match=match):
        search(objective, 3, seed=0, **FAST, **kwargs)


def test_named_objectives_compile():
    for name in OBJECTIVES:
        assert search(name, 2, seed=0, maxiter=2, popsize=4, local_starts=0).objective == name


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"maxiter": 0}, ValueError, "maxiter must be >= 1"),
        ({"popsize": 0}, ValueError, "popsize must be >= 1"),
        ({"local_starts": -1}, ValueError, "local_starts must be >= 0"),
        ({"D": "0.5"}, TypeError, "D must be a real number"),
        ({"D": float("nan")}, ValueError, "D must be finite"),
    ],
)
def test_bad_search_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        search("gumbel", 3, seed=0, **{**FAST, **kwargs})
    with pytest.raises(TypeError, match="n must be an int"):
        search("gumbel", 3.0, seed=0, **FAST)


def test_search_memory_bounds_the_peak_and_refuses_the_impossible(monkeypatch):
    n = 70  # a population of 15 * 140 points of 140 coordinates
    # a cheap objective, and no local polish (slow here, small in memory): the population is
    # what takes the memory
    monkeypatch.setattr(search_module, "minimize", lambda f, z0, **kw: SimpleNamespace(fun=np.inf))
    tracemalloc.start()
    try:
        search(lambda p, q: float(p[0] - q[0]), n, seed=0, maxiter=1, local_starts=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= search_memory(n)

    def never(*args, **kwargs):
        raise AssertionError("the search ran")

    monkeypatch.setattr(search_module, "differential_evolution", never)
    with pytest.raises(ValueError, match=r"needs about .* EiB of memory"):
        search("gumbel", 10**8, seed=0)
