"""Bad input gets a specific error before any numba code runs."""

import numpy as np
import pytest
from coupling.simulate import validation

from coupling import simulate

GOOD = np.array([0.25, 0.75])
BAD_DISTRIBUTIONS = [
    (np.array([0.5, -0.1, 0.6]), ValueError, r"p\[1\] = -0.1 is negative"),
    (np.array([0.5, np.nan]), ValueError, r"p\[1\] = nan is not finite"),
    (np.array([np.inf, 0.0]), ValueError, "not finite"),
    (np.array([0.5, 0.4]), ValueError, "sums to 0.9"),
    (np.array([]), ValueError, "empty"),
    (np.ones((2, 2)) / 4, ValueError, "one-dimensional"),
    (np.array(["a", "b"]), TypeError, "dtype"),
    (np.array([0.5 + 0j, 0.5]), TypeError, "dtype"),
    (np.array([True, False]), TypeError, "dtype"),
    ("0.5,0.5", TypeError, "array of numbers"),
    ([[0.5], [0.2, 0.3]], TypeError, "array of numbers"),
]


@pytest.mark.parametrize(("bad", "error", "match"), BAD_DISTRIBUTIONS)
@pytest.mark.parametrize(
    "call",
    [
        lambda x: simulate.gumbel_sample(x, seed=0, key=0),
        lambda x: simulate.wmh_sample(x, seed=0, key=0),
        lambda x: simulate.gumbel_collision(x, GOOD),  # p is checked before the lengths
        lambda x: simulate.estimate(x, GOOD, "gumbel", 10, seed=0),
        lambda x: simulate.tv_distance(x, GOOD),
    ],
    ids=["gumbel_sample", "wmh_sample", "gumbel_collision", "estimate", "tv_distance"],
)
def test_bad_distribution(call, bad, error, match):
    with pytest.raises(error, match=match):
        call(bad)


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="different lengths: 2 and 3"):
        simulate.collision_probability(GOOD, np.ones(3) / 3, "wmh")


def test_normalize_rescales_and_rejects_zero_mass():
    assert simulate.gumbel_collision([1, 3], [2, 2], normalize=True) == pytest.approx(
        simulate.gumbel_collision([0.25, 0.75], [0.5, 0.5])
    )
    with pytest.raises(ValueError, match="cannot normalize"):
        simulate.gumbel_sample([0.0, 0.0], seed=0, key=0, normalize=True)


def test_sum_tolerance_is_1e_9():
    simulate.gumbel_sample([0.5, 0.5 + 5e-10], seed=0, key=0)
    with pytest.raises(ValueError, match="not 1"):
        simulate.gumbel_sample([0.5, 0.5 + 2e-9], seed=0, key=0)


def test_integer_input_is_accepted():
    assert simulate.gumbel_sample(np.array([0, 1, 0]), seed=0, key=0) == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"seed": -1, "key": 0}, ValueError),
        ({"seed": "1", "key": 0}, TypeError),
        ({"seed": 0, "key": 1.0}, TypeError),
        ({"seed": 0, "key": [1, -2]}, ValueError),
    ],
)
def test_bad_seed_and_key(kwargs, error):
    with pytest.raises(error):
        simulate.gumbel_sample(GOOD, **kwargs)


def test_wmh_has_one_name_per_variant():
    with pytest.raises(TypeError, match="method"):
        simulate.wmh_sample(GOOD, seed=0, key=0, method="darts")
    assert "wmh-darts" in simulate.PROTOCOLS
    assert simulate.collision_probability(GOOD, GOOD[::-1], "wmh-darts") == (
        simulate.collision_probability(GOOD, GOOD[::-1], "wmh")
    )


@pytest.mark.parametrize(
    ("value", "kwargs", "error", "match"),
    [
        (True, {}, TypeError, "real number"),
        ("0.5", {}, TypeError, "real number"),
        (1 + 0j, {}, TypeError, "real number"),
        (float("nan"), {}, ValueError, "finite"),
        (float("inf"), {}, ValueError, "finite"),
        (0.0, {"low": 0.0, "open_low": True}, ValueError, "must be > 0.0"),
        (-1e-300, {"low": 0.0}, ValueError, "must be >= 0.0"),
        (1.5, {"high": 1.0}, ValueError, "must be <= 1.0"),
        (1.0, {"high": 1.0, "open_high": True}, ValueError, "must be < 1.0"),
    ],
)
def test_as_real_refuses(value, kwargs, error, match):
    with pytest.raises(error, match=match):
        validation.as_real(value, "x", **kwargs)


def test_as_real_and_as_count_accept_exactly_their_types():
    assert validation.as_real(np.float32(0.5), "x", 0.0, 1.0) == 0.5
    assert type(validation.as_real(np.int64(3), "x")) is float
    assert validation.as_count(np.int32(7), "k", maximum=7) == 7
    for bad in (10.7, 2.9, "3", True, None):
        with pytest.raises(TypeError, match="must be an int"):
            validation.as_count(bad, "n")
    with pytest.raises(ValueError, match="must be <= 7, got 8"):
        validation.as_count(8, "k", maximum=7)


def test_sum_tolerance_scales_with_dtype_and_length():
    eps32 = float(np.finfo(np.float32).eps)
    assert validation.sum_tolerance(np.float64, 10) == validation.SUM_TOLERANCE
    assert validation.sum_tolerance(np.int64, 10) == validation.SUM_TOLERANCE
    assert validation.sum_tolerance(np.float32, 50_000) == 50_000 * eps32
    big = 10**8
    assert validation.sum_tolerance(np.float64, big) == big * float(np.finfo(np.float64).eps)
    # n eps >= 1 would pass anything: the cap keeps a low-precision vocabulary checked
    assert validation.sum_tolerance(np.float16, 50_000) == validation.SUM_TOLERANCE_CAP == 0.05
    assert validation.sum_tolerance(np.float64, 10**15) == validation.SUM_TOLERANCE_CAP


def test_a_bfloat16_softmax_passes_and_a_vector_summing_to_1_5_does_not():
    torch = pytest.importorskip("torch")
    from coupling.simulate import gumbel_sample

    logits = torch.from_numpy(np.random.default_rng(3).normal(0, 3, 50_000))
    p = torch.softmax(logits.to(torch.float32), dim=0).to(torch.bfloat16)
    assert abs(float(p.double().sum()) - 1) > 1e-9  # rounding moved the sum
    assert 0 <= gumbel_sample(p, seed=0, key=0) < 50_000
    with pytest.raises(ValueError, match=r"sums to 1\.4\d*, not 1 \(tolerance 0\.05\)"):
        gumbel_sample(p * 1.5, seed=0, key=0)
    with pytest.raises(ValueError, match=r"sums to 1\.4\d*, not 1 \(tolerance 0\.05\)"):
        gumbel_sample((p * 1.5).double().numpy().astype(np.float16), seed=0, key=0)


def _float32_softmax(n, seed):
    z = np.random.default_rng(seed).normal(0, 3, size=n).astype(np.float32)
    w = np.exp(z - z.max())
    return w / w.sum()


def test_float32_softmax_is_a_distribution_at_its_precision():
    """A float32 softmax sums to 1 within n * eps32, far outside the float64 floor of 1e-9."""
    p = _float32_softmax(50_000, 0)
    off = abs(float(np.sum(p, dtype=np.float64)) - 1)
    assert 1e-9 < off <= validation.sum_tolerance(p.dtype, p.size)
    a = simulate.gumbel_sample(p, seed=3, key=np.arange(200))  # refused before
    b = simulate.gumbel_sample(p.astype(np.float64), seed=3, key=np.arange(200), normalize=True)
    assert np.array_equal(a, b)  # accepted as it is and rescaled: the same samples
    checked = validation.as_distribution(p)
    assert abs(checked.sum() - 1) < 1e-12 and checked.dtype == np.float64
    simulate.gumbel_collision(checked, checked)  # the float64 result passes every later check
    worse = p.copy()
    worse[0] += 2 * validation.sum_tolerance(p.dtype, p.size)
    with pytest.raises(ValueError, match="not 1"):
        simulate.gumbel_sample(worse, seed=3, key=0)


def test_check_memory_names_both_figures(monkeypatch):
    monkeypatch.setattr(validation, "available_memory", lambda: 3 * 2**30)
    validation.check_memory(2**30, "a small run")
    with pytest.raises(ValueError, match=r"a big run needs about 4.0 GiB of memory; .* 3.0 GiB"):
        validation.check_memory(4 * 2**30, "a big run")
    monkeypatch.setattr(validation, "available_memory", lambda: None)
    validation.check_memory(2**80, "anything")  # unknown: no refusal


def test_available_memory_is_read_from_the_system():
    have = validation.available_memory()
    assert have is None or 0 < have < 2**60
