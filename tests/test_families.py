"""Distribution families: seeded, valid, and honest about their distance."""

import numpy as np
import pytest

from simulate import tv_distance
from simulate.families import FAMILIES, from_npz, kset_pair, make_pair

PARAMS = {"kset": {"k": 7, "overlap": 3}}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("n", [1, 2, 50, 3000])
def test_valid_seeded_and_reports_d(family, n):
    params = PARAMS.get(family, {})
    if family == "kset" and n < 11:
        params = {"k": 1, "overlap": 1 if n == 1 else 0}
    a = make_pair(family, n, seed=11, **params)
    b = make_pair(family, n, seed=11, **params)
    c = make_pair(family, n, seed=12, **params)
    for pair in (a, c):
        assert pair.p.shape == pair.q.shape == (n,)
        assert np.all(pair.p >= 0) and np.all(pair.q >= 0)
        assert pair.p.sum() == pytest.approx(1, abs=1e-12)
        assert pair.q.sum() == pytest.approx(1, abs=1e-12)
        assert pair.D == pytest.approx(tv_distance(pair.p, pair.q), abs=1e-12)
    assert np.array_equal(a.p, b.p) and np.array_equal(a.q, b.q)
    if n >= 50 and family != "point-mass":
        assert not np.array_equal(a.p, c.p) or not np.array_equal(a.q, c.q)


def test_kset_distance_is_exact():
    pair = kset_pair(100, seed=0, k=20, overlap=15)
    assert pair.D == 0.25
    assert (pair.p > 0).sum() == 20 and ((pair.p > 0) & (pair.q > 0)).sum() == 15


def test_tiny_alpha_dirichlet_has_no_nan():
    pair = make_pair("dirichlet", 1000, seed=0, alpha=1e-4)
    assert np.isfinite(pair.p).all() and pair.p.sum() == pytest.approx(1)


def test_mixture_distance_at_most_lambda():
    for lam in (0.0, 0.3, 1.0):
        assert make_pair("mixture", 200, seed=1, lam=lam).D <= lam + 1e-12


def test_npz_round_trip(tmp_path):
    pair = make_pair("zipf", 30, seed=0)
    path = tmp_path / "pair.npz"
    np.savez(path, p=pair.p, q=pair.q)
    loaded = from_npz(path)
    assert np.array_equal(loaded.p, pair.p) and loaded.D == pytest.approx(pair.D)
    np.savez(tmp_path / "bad.npz", p=pair.p)
    with pytest.raises(ValueError, match="no array 'q'"):
        from_npz(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="no such"):
        from_npz(tmp_path / "missing.npz")


@pytest.mark.parametrize(
    ("family", "kwargs", "error"),
    [
        ("dirichlet", {"alpha": 0}, ValueError),
        ("dirichlet", {"alpha": float("nan")}, ValueError),
        ("kset", {"k": 5, "overlap": 6}, ValueError),
        ("kset", {"k": 30, "overlap": 0}, ValueError),
        ("mixture", {"lam": 1.5}, ValueError),
        ("llm-softmax", {"temperature": 0}, ValueError),
        ("zipf", {"bogus": 1}, TypeError),
        ("nope", {}, ValueError),
    ],
)
def test_bad_family_arguments(family, kwargs, error):
    with pytest.raises(error):
        make_pair(family, 50, seed=0, **kwargs)
