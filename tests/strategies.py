"""Hypothesis strategies shared by the tests."""

import numpy as np
from hypothesis import strategies as st

STYLES = ("dense", "zeros", "disjoint", "point-mass", "tiny", "equal", "kset", "spiky")


@st.composite
def distribution_pairs(draw, max_n=10_000):
    """Pairs (p, q) over the same n items, covering the awkward corners of the simplex."""
    n = draw(st.one_of(st.integers(1, 6), st.integers(1, 64), st.integers(1, max_n)))
    style = draw(st.sampled_from(STYLES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    alpha = draw(st.sampled_from([0.05, 0.5, 1.0, 5.0]))
    p = rng.gamma(alpha, size=n)
    q = rng.gamma(alpha, size=n)
    if style == "zeros":
        p[rng.random(n) < 0.3] = 0
        q[rng.random(n) < 0.3] = 0
    elif style == "disjoint" and n >= 2:
        cut = rng.integers(1, n)
        p[cut:] = 0
        q[:cut] = 0
    elif style == "point-mass":
        p[:] = 0
        p[rng.integers(n)] = 1
    elif style == "tiny":
        p[rng.random(n) < 0.5] = 1e-300
        q[rng.random(n) < 0.5] = 5e-301
    elif style == "equal":
        q = p.copy()
    elif style == "kset" and n >= 2:
        k = int(rng.integers(1, n // 2 + 1))
        s = int(rng.integers(0, k + 1))
        perm = rng.permutation(n)
        p[:] = 0
        q[:] = 0
        p[perm[:k]] = 1.0 / k
        q[perm[k - s : 2 * k - s]] = 1.0 / k
    elif style == "spiky":
        p = p**8
        q = q**8
    for arr in (p, q):
        if not arr.sum() > 0:
            arr[rng.integers(n)] = 1.0
    return p / p.sum(), q / q.sum()
