"""Bad input gets a specific error before any numba code runs."""

import numpy as np
import pytest

import simulate

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
