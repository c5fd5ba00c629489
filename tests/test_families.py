"""Distribution families: seeded, valid, and honest about their distance."""

import numpy as np
import pytest
from coupling.simulate import tv_distance
from coupling.simulate.families import (
    FAMILIES,
    _transpose,
    check_params,
    from_npz,
    kset_pair,
    make_pair,
    max_swaps,
    permuted_pair,
)

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


def _transpose_one_by_one(perm, pairs):
    """The obvious twin: one swap a step."""
    for i, j in pairs:
        perm[[i, j]] = perm[[j, i]]


@pytest.mark.parametrize("n", [1, 2, 3, 17, 1000, 20_000])
def test_disjoint_runs_equal_one_swap_at_a_time(n):
    rng = np.random.default_rng(n)
    pairs = rng.integers(n, size=(5000, 2))
    fast, slow = np.arange(n), np.arange(n)
    _transpose(fast, pairs)
    _transpose_one_by_one(slow, pairs)
    assert np.array_equal(fast, slow)


def test_permuted_swaps_draw_the_same_stream_as_before():
    """Drawing the transpositions in blocks gives the pair the old per-swap loop gave."""
    n, swaps = 300, 1234
    pair = permuted_pair(n, seed=4, alpha=0.5, swaps=swaps)
    rng = np.random.default_rng(np.random.SeedSequence([4, _family_tag("permuted")]))
    g = rng.standard_gamma(0.5, size=(1, n))
    p = (g / g.sum(axis=1, keepdims=True))[0]
    perm = np.arange(n)
    for _ in range(swaps):
        i, j = rng.integers(n, size=2)
        perm[[i, j]] = perm[[j, i]]
    # equal up to the final rescaling (sums taken in another order): any other permutation
    # would differ by whole entries
    assert np.allclose(pair.p, p, rtol=1e-14, atol=0)
    assert np.allclose(pair.q, p[perm], rtol=1e-14, atol=0)
    assert not np.allclose(pair.q, p, rtol=1e-14, atol=0)


def _family_tag(name):
    import hashlib

    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def test_swaps_are_bounded():
    assert max_swaps(1000) == 6908 and max_swaps(1) == 1 and max_swaps(2) == 2
    make_pair("permuted", 1000, seed=0, swaps=6908)
    with pytest.raises(ValueError, match="swaps = 6909 exceeds max"):
        make_pair("permuted", 1000, seed=0, swaps=6909)


@pytest.mark.parametrize(
    ("family", "n", "params", "error", "match"),
    [
        ("zipf", 10.7, {}, TypeError, "n must be an int, got 10.7"),
        ("zipf", 10, {"noise": "0.5"}, TypeError, "noise must be a real number"),
        ("zipf", 10, {"noise": True}, TypeError, "noise must be a real number"),
        ("kset", 10, {"k": 2.0, "overlap": 1}, TypeError, "k must be an int"),
        ("kset", 10, {"k": 2}, TypeError, "family 'kset'"),
        ("mixture", 10, {"lam": 1.5}, ValueError, "lam must be <= 1.0"),
        ("", 10, {}, ValueError, "unknown family ''"),
    ],
)
def test_check_params_checks_without_building(family, n, params, error, match):
    with pytest.raises(error, match=match):
        check_params(family, n, **params)


def test_check_params_gives_the_pairs_params():
    for family in FAMILIES:
        params = PARAMS.get(family, {})
        assert check_params(family, 40, **params) == make_pair(family, 40, seed=1, **params).params


def test_npz_that_is_not_an_archive(tmp_path):
    pair = make_pair("zipf", 30, seed=0)
    np.save(tmp_path / "a.npy", pair.p)
    with pytest.raises(ValueError, match=r"single \.npy array"):
        from_npz(tmp_path / "a.npy")
    (tmp_path / "t.npz").write_text("0.5 0.5")
    with pytest.raises(ValueError, match=r"not an \.npz archive"):
        from_npz(tmp_path / "t.npz")
    np.savez(tmp_path / "obj.npz", p=np.array([0.5, "x"], dtype=object), q=pair.q)
    with pytest.raises(ValueError, match="cannot be read"):
        from_npz(tmp_path / "obj.npz")
    np.savez(tmp_path / "counts.npz", p=np.array([1, 3]), q=np.array([2, 2]))
    assert from_npz(tmp_path / "counts.npz", normalize=True).D == pytest.approx(0.25)
