"""Claim 6, the kernels: the numba samplers of the three communication protocols against
their exact laws by Monte Carlo (agreement and mean bits within Z_LIMIT standard errors,
chi-square goodness of fit of both marginals with small cells pooled)."""

import math

import numpy as np
from coupling.simulate.communication import expected_bits, relay_pairs
from coupling.simulate.exact_marginal import (
    interactive_exact,
    interactive_sample,
    quantized_exact,
    quantized_sample,
)
from coupling.simulate.families import make_pair
from scipy.stats import chisquare

__all__ = ["CHI2_FLOOR", "Z_LIMIT", "monte_carlo_pairs", "monte_carlo_rows"]

Z_LIMIT = 5.0  # standard errors
CHI2_FLOOR = 1e-6  # smallest accepted chi-square p-value (about 30 tests a run)
SMALL_CELL = 5  # expected counts below this are pooled


def _chi2_pvalue(counts, law):
    """Goodness of fit of counts to a law; cells expected below SMALL_CELL are pooled."""
    law = np.asarray(law, dtype=float)
    expected = law / law.sum() * counts.sum()
    if np.any(counts[expected == 0]):
        return 0.0
    big = expected >= SMALL_CELL
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    if keep.sum() < 2:
        return 1.0
    return float(chisquare(obs[keep], exp[keep]).pvalue)


def _mc_row(protocol, pair, run, exact_hit, alice_law, bob_law, exact_bits, trials):
    a, b, bits = run
    hit = float(np.mean(a == b))
    exact_hit = float(exact_hit)
    se = math.sqrt(max(exact_hit * (1 - exact_hit), 1e-300) / trials)
    bits_se = float(np.std(bits)) / math.sqrt(trials)
    n = len(alice_law)
    row = {
        "protocol": protocol,
        "pair": pair,
        "n": n,
        "agreement_mc": hit,
        "agreement_exact": exact_hit,
        "se": se,
        "bits_mc": float(np.mean(bits)),
        "bits_exact": float(exact_bits),
        "bits_se": bits_se,
        "alice_chi2_p": _chi2_pvalue(np.bincount(a, minlength=n), alice_law),
        "bob_chi2_p": _chi2_pvalue(np.bincount(b, minlength=n), bob_law),
    }
    row["ok"] = bool(
        abs(hit - exact_hit) <= Z_LIMIT * se
        and abs(row["bits_mc"] - row["bits_exact"]) <= Z_LIMIT * bits_se + 1e-9
        and min(row["alice_chi2_p"], row["bob_chi2_p"]) >= CHI2_FLOOR
    )
    return row


def monte_carlo_pairs(seed=0):
    """The pairs of the kernel checks: three at n = 8, one Zipf pair at n = 1000."""
    rng = np.random.default_rng(seed)
    pairs = []
    for name, alpha in (("dirichlet(1)", 1.0), ("dirichlet(0.3)", 0.3), ("dirichlet(3)", 3.0)):
        p, q = rng.dirichlet(np.full(8, alpha), size=2)
        pairs.append((name, p, q))
    zipf = make_pair("zipf", 1000, seed=seed)
    pairs.append(("zipf", zipf.p, zipf.q))
    return pairs


def monte_carlo_rows(trials, seed, relay_formula, quantized_k):
    """One row per protocol and pair (:func:`monte_carlo_pairs`); ``row["ok"]``: it passed.

    ``relay_formula(p, q, *, extra)`` gives the relay's law under test; ``quantized_k``: k at
    n = 8 and at n = 1000. Stops after the first pair with a failing row."""
    rows = []
    keys = np.arange(trials)
    for name, p, q in monte_carlo_pairs(seed):
        law = interactive_exact(p, q)
        run = interactive_sample(p, q, seed=seed, key=keys)
        rows.append(_mc_row("interactive", name, run, law.agreement, p, q, law.bits, trials))
        k = quantized_k[0] if p.size <= 8 else quantized_k[1]
        qlaw = quantized_exact(p, q, k)
        run = quantized_sample(p, q, k, seed=seed, key=keys)
        rows.append(_mc_row(f"quantized k={k}", name, run, qlaw.agreement, p, q, qlaw.bits, trials))
        for extra in (0, 2):
            rlaw = relay_formula(p, q, extra=extra)
            run = relay_pairs(p, q, seed=seed, key=keys, extra=extra)
            bits = expected_bits(p.size, extra=extra)
            label = f"relay extra={extra}"
            rows.append(_mc_row(label, name, run, rlaw.collision, p, rlaw.bob_law, bits, trials))
        if not all(r["ok"] for r in rows):
            break
    return rows
