"""The public randomness: known answers, an independent implementation, and its law."""

import math

import numpy as np
import pytest
from coupling.simulate import DOMAINS, domain_tag, uniform
from coupling.simulate.reference import uniform_numpy
from scipy import stats

# (seed, key, index, domain) -> float.hex of u; these pin the specification.
KNOWN_ANSWERS = [
    (0, 0, 0, "gumbel", "0x1.0abb655c803bcp-4"),
    (0, 0, 1, "gumbel", "0x1.8bb627d7f9520p-1"),
    (1, 0, 0, "gumbel", "0x1.00ea8a496b20ep-1"),
    (0, 1, 0, "gumbel", "0x1.06ce613d8cad8p-5"),
    (2**64 - 1, 2**63 - 1, 2**63 - 1, "gumbel", "0x1.e8bb8ff599126p-1"),
    (12345, 678, 49151, "wmh-dart-item", "0x1.03c85b933bf88p-5"),
    (42, 7, 3, "optimal", "0x1.dafc08945350ap-3"),
]
MASK = 2**64 - 1


def _mix_int(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _uniform_int(seed, key, index, domain):
    """The specification in Python integers, independent of numpy and numba."""
    import hashlib

    tag = int.from_bytes(hashlib.blake2b(domain.encode(), digest_size=8).digest(), "little")
    gamma = 0x9E3779B97F4A7C15
    state = _mix_int(_mix_int(_mix_int((seed + gamma) & MASK) ^ tag) ^ key)
    word = _mix_int((state + (index + 1) * gamma) & MASK)
    return ((word >> 11) + 0.5) / 2**53


@pytest.mark.parametrize(("seed", "key", "index", "domain", "expected"), KNOWN_ANSWERS)
def test_known_answers(seed, key, index, domain, expected):
    u = float(uniform(seed=seed, key=key, index=index, domain=domain))
    assert u == float.fromhex(expected)
    assert u == _uniform_int(seed, key, index, domain)
    assert float(uniform_numpy(seed=seed, key=key, index=index, domain=domain)) == u


def test_kernel_equals_integer_spec_on_many_points():
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**62, size=200)
    idx = rng.integers(0, 2**40, size=200)
    got = uniform(seed=987654321, key=keys, index=idx, domain="wmh-record-time")
    want = [_uniform_int(987654321, int(k), int(i), "wmh-record-time") for k, i in zip(keys, idx)]
    assert np.array_equal(got, want)


def test_broadcasting_shape_and_open_interval():
    u = uniform(seed=3, key=np.arange(5)[:, None], index=np.arange(7)[None, :], domain="gumbel")
    assert u.shape == (5, 7)
    assert np.all((u > 0) & (u < 1))
    assert 2.0**-54 <= u.min() and u.max() <= 1 - 2.0**-54


def test_domains_are_separated():
    a = uniform(seed=1, key=0, index=np.arange(1000), domain="gumbel")
    b = uniform(seed=1, key=0, index=np.arange(1000), domain="wmh-dart-item")
    assert not np.any(a == b)
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(1000)
    assert domain_tag("gumbel") == np.uint64(0x92687C89C2E2707D)


def test_uniformity_and_independence_across_keys_and_indices():
    u = uniform(
        seed=11, key=np.arange(400)[:, None], index=np.arange(500)[None, :], domain="gumbel"
    )
    assert stats.kstest(u.ravel(), "uniform").pvalue > 1e-4
    # neighbouring keys and neighbouring indices are uncorrelated (|r| within 5 standard errors)
    se = 1 / math.sqrt(u.size)
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < 5 * se * 1.01
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 5 * se * 1.01


def test_gumbel_noise_moments():
    """G = -ln(-ln u) is standard Gumbel: mean Euler's gamma, variance pi^2/6."""
    n = 10**6
    g = -np.log(-np.log(uniform(seed=5, key=1, index=np.arange(n), domain="gumbel")))
    mean_se = math.sqrt(math.pi**2 / 6 / n)
    assert abs(g.mean() - np.euler_gamma) < 5 * mean_se
    # the variance of the sample variance is (mu4 - sigma^4)/n; mu4 = 5.4 sigma^4 for Gumbel
    sigma2 = math.pi**2 / 6
    var_se = math.sqrt((5.4 - 1) * sigma2**2 / n)
    assert abs(g.var() - sigma2) < 5 * var_se
    assert np.isfinite(g).all()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"seed": -1, "key": 0, "index": 0}, ValueError),
        ({"seed": 2**64, "key": 0, "index": 0}, ValueError),
        ({"seed": 1.5, "key": 0, "index": 0}, TypeError),
        ({"seed": True, "key": 0, "index": 0}, TypeError),
        ({"seed": 0, "key": -3, "index": 0}, ValueError),
        ({"seed": 0, "key": 0, "index": np.array([0.5])}, TypeError),
        ({"seed": 0, "key": np.array([1, -1]), "index": 0}, ValueError),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(error):
        uniform(domain="gumbel", **kwargs)
    with pytest.raises(ValueError, match="unregistered"):
        uniform(seed=0, key=0, index=0, domain="")
    with pytest.raises(TypeError):
        uniform(seed=0, key=0, index=0, domain=3)


def test_unregistered_domain_is_refused_everywhere():
    with pytest.raises(ValueError, match="unregistered public-randomness domain 'gumbell'"):
        uniform(seed=0, key=0, index=0, domain="gumbell")
    with pytest.raises(ValueError, match="unregistered"):
        domain_tag("sd-target ")


def _domain_literals():
    """Every string literal passed as ``domain=`` or named like a domain constant in the
    first-party sources, with where it appears."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    for package in ("simulate", "proofs", "paper_repro", "reports", "coupling", "benchmarks"):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                values = []
                if isinstance(node, ast.keyword) and node.arg == "domain":
                    values = [node.value]
                elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id.endswith("_DOMAIN") for t in node.targets
                ):
                    values = [node.value]
                for v in values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        yield v.value, f"{path.name}:{v.lineno}"


def test_every_domain_in_the_sources_is_registered():
    from coupling.simulate._prepare import FAITHFUL_DOMAINS

    found = list(_domain_literals())
    assert len(found) >= 3  # the scan sees the decoders' and the relay's domains
    used = {name for name, _ in found} | {d for ds in FAITHFUL_DOMAINS.values() for d in ds}
    assert sorted(used - set(DOMAINS)) == []
    for name, description in DOMAINS.items():
        assert isinstance(description, str) and description, name
