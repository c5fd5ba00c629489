"""The torch backend of the public randomness and the one-party samplers, against the numba one.

One specification, two backends: the uniforms bit for bit (the known-answer vectors of
test_randomness), and for float64 input the same samples on 10^5 random (distribution, key)
cases per sampler, including zeros, ties, entries near 1e-300, point masses and V up to
262,144, with zero tolerance. Where ``log`` rounds differently on the two backends (torch's CPU
``log`` differs from the host's on about 0.1 % of inputs, CUDA's similarly), a Gumbel sample
can only flip on a near-tie of its two leading keys, about 2**-51 per draw: the tests would
accept such a flip (at most ``MAX_NEAR_TIES`` per 10^5) and fail on any other disagreement;
none has occurred. The batch API (rows with one key each) is checked against one call per row.
"""

import subprocess
import sys

import numpy as np
import pytest
from coupling.simulate import gumbel_sample, inverse_cdf_sample, uniform, wmh_sample
from test_randomness import KNOWN_ANSWERS

torch = pytest.importorskip("torch")

CASES = 100_000  # (distribution, key) cases per sampler
MAX_NEAR_TIES = 2  # allowed flips per CASES, each required to be a near-tie of the race
NEAR_TIE = 2.0**-48  # relative gap of the two leading race keys that counts as a near-tie
F64 = torch.float64
STYLES = ("dense", "zeros", "ties", "tiny", "point-mass", "spiky")


def _rows(rng, count, n, style):
    """``count`` distributions over ``n`` items in one awkward style."""
    p = rng.gamma(rng.choice([0.05, 0.5, 2.0]), size=(count, n))
    if style == "zeros":
        p[rng.random(p.shape) < 0.5] = 0.0
    elif style == "ties":
        p = np.round(p * 3) + (rng.random(p.shape) < 0.5)  # a few distinct repeated values
    elif style == "tiny":
        p[rng.random(p.shape) < 0.5] = 1e-300
    elif style == "point-mass":
        p[:] = 0.0
        p[np.arange(count), rng.integers(0, n, count)] = 1.0
    elif style == "spiky":
        p = p**8
    p[p.sum(axis=1) == 0, 0] = 1.0
    return p / p.sum(axis=1, keepdims=True)


def _batches(seed):
    """About CASES cases: many small-V blocks, some mid-V, and a few rows at V = 262,144."""
    rng = np.random.default_rng(seed)
    total = 0
    while total < CASES - 8:
        n = int(rng.choice([1, 2, 3, 5, 8, 17, 64, 255, 256, 257, 1000, 4096]))
        count = min(CASES - 8 - total, max(4, 64_000 // n), 2_000)
        style = STYLES[int(rng.integers(len(STYLES)))]
        yield _rows(rng, count, n, style), rng.integers(0, 2**62, size=count)
        total += count
    yield _rows(rng, 4, 262_144, "dense"), rng.integers(0, 2**62, size=4)
    yield _rows(rng, 4, 262_144, "tiny"), rng.integers(0, 2**62, size=4)


def _is_near_tie(p, seed, key, a, b):
    e = -np.log(uniform(seed=seed, key=int(key), index=np.arange(p.size), domain="gumbel"))
    with np.errstate(divide="ignore"):
        ka, kb = e[a] / p[a], e[b] / p[b]
    return abs(ka - kb) <= NEAR_TIE * min(ka, kb)


@pytest.mark.parametrize(("seed", "key", "index", "domain", "expected"), KNOWN_ANSWERS)
def test_known_answers_on_tensors(seed, key, index, domain, expected):
    want = float.fromhex(expected)
    got = uniform(seed=seed, key=torch.tensor([key]), index=index, domain=domain)
    assert got.dtype == torch.float64 and got.tolist() == [want]
    got = uniform(seed=seed, key=key, index=torch.tensor(index), domain=domain)
    assert got.item() == want


def test_uniform_tensors_equal_arrays_bit_for_bit():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63 - 1, size=300, dtype=np.int64)
    idx = rng.integers(0, 2**62, size=(7, 1), dtype=np.int64)
    want = uniform(seed=2**64 - 5, key=keys, index=idx, domain="sd-accept")
    got = uniform(seed=2**64 - 5, key=torch.from_numpy(keys), index=torch.from_numpy(idx),
                  domain="sd-accept")  # fmt: skip
    assert got.shape == want.shape and np.array_equal(got.numpy(), want)


@pytest.mark.parametrize("sampler", [gumbel_sample, wmh_sample], ids=["gumbel", "wmh"])
def test_backends_agree_on_many_cases(sampler):
    cases = near = 0
    for p, keys in _batches(1 if sampler is gumbel_sample else 2):
        host = sampler(p, seed=11, key=keys)
        dev = sampler(torch.from_numpy(p), seed=11, key=keys)
        assert dev.dtype == torch.int64 and dev.shape == host.shape
        cases += keys.size
        for r in np.flatnonzero(host != dev.numpy()):
            assert sampler is gumbel_sample, "the records race disagreed"
            assert _is_near_tie(p[r], 11, keys[r], host[r], int(dev[r])), (p[r], keys[r])
            near += 1
    assert cases >= CASES and near <= MAX_NEAR_TIES


@pytest.mark.parametrize("sampler", [gumbel_sample, wmh_sample], ids=["gumbel", "wmh"])
def test_rows_with_one_key_each_equal_one_call_per_row(sampler):
    p = _rows(np.random.default_rng(3), 6, 40, "zeros")
    keys = np.array([5, 0, 9, 2**40, 7, 7])
    rows = sampler(p, seed=4, key=keys)
    assert rows.tolist() == [sampler(p[r], seed=4, key=int(keys[r])) for r in range(6)]
    assert sampler(torch.from_numpy(p), seed=4, key=torch.from_numpy(keys)).tolist() == (
        rows.tolist()
    )
    one = sampler(torch.from_numpy(p[0]), seed=4, key=np.arange(12).reshape(3, 4))
    assert one.shape == (3, 4)
    assert one.numpy().tolist() == sampler(p[0], seed=4, key=np.arange(12).reshape(3, 4)).tolist()
    assert sampler(torch.from_numpy(p[0]), seed=4, key=5).shape == ()


def test_float32_and_unnormalised_tensors():
    p = torch.tensor([0.2, 0.0, 0.5, 0.3], dtype=torch.float32)
    want = gumbel_sample(p.double().numpy(), seed=1, key=np.arange(50), normalize=True)
    got = gumbel_sample(p * 3, seed=1, key=np.arange(50), normalize=True)
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize(
    ("p", "key", "error", "match"),
    [
        (torch.tensor([0.5, -0.1, 0.6]), 0, ValueError, r"p\[1\] = -0.1.* is negative"),
        (torch.tensor([0.5, float("nan")]), 0, ValueError, "not finite"),
        (torch.tensor([0.5, 0.4]), 0, ValueError, "sums to 0.9"),
        (
            torch.tensor([[0.5, 0.5], [0.25, 0.5]], dtype=F64),
            [0, 1],
            ValueError,
            r"p\[1\] sums to 0.75",
        ),
        (torch.ones(2, 2) / 2, 0, ValueError, "one-dimensional"),
        (torch.tensor([]), 0, ValueError, "empty"),
        (torch.tensor([True, False]), 0, TypeError, "dtype"),
        (torch.tensor([0.5, 0.5]), torch.tensor([-1]), ValueError, r"\[0, 2\*\*63\)"),
        (torch.tensor([0.5, 0.5]), torch.tensor([0.5]), TypeError, "integer"),
        (torch.tensor([0.5, 0.5]), -1, ValueError, "key"),
    ],
)
def test_bad_tensor_input_is_refused(p, key, error, match):
    for sampler in (gumbel_sample, wmh_sample):
        with pytest.raises(error, match=match):
            sampler(p, seed=0, key=key)


def test_inverse_cdf_on_tensors_equals_numpy():
    rng = np.random.default_rng(5)
    p = _rows(rng, 50, 30, "zeros")
    u = rng.random(50)
    want = [inverse_cdf_sample(p[r], u[r]) for r in range(50)]
    assert inverse_cdf_sample(torch.from_numpy(p), torch.from_numpy(u)).tolist() == want
    assert inverse_cdf_sample(torch.from_numpy(p[0]), float(u[0])).item() == want[0]
    top = np.array([0.3, 0.7, 0.0, 0.0])  # u close to 1 never lands on a zero-mass item
    assert inverse_cdf_sample(torch.from_numpy(top), 1 - 2**-53).item() == 1
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        inverse_cdf_sample(torch.from_numpy(top), 1.0)


def test_importing_simulate_never_imports_torch():
    code = "import sys, coupling; coupling.gumbel_sample([0.5, 0.5], seed=0, key=0); "
    code += "assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
