"""Block efficiency from acceptance flags: the replay against a brute-force decoder loop and
against the real decoders on tiny random models, the exact expectation against enumeration,
the acceptance rates against the collision probabilities, the in-law SD estimate against
real SD runs."""

import itertools

import numpy as np
import pytest
from coupling.decoding import disd, standard_sd
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.block_efficiency import (
    acceptance_rates,
    acceptance_rates_path,
    expected_block_efficiency,
    replay,
    speedup,
)
from coupling.paper_repro.drafters import ModelDrafter
from coupling.paper_repro.speculative import JP_EVERY, score_paths
from coupling.simulate import exact
from hypothesis import given
from hypothesis import strategies as st
from lm_fixtures import one_torch_thread, tiny_llama, torch

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)


class _FlagRule:
    """A decoder rule whose draft at key t (the absolute position: the prompt is one token,
    so output index t - 1) is accepted iff flags[t - 1] (tokens are positions)."""

    def __init__(self, flags, prompt_length=1):
        self.flags = flags
        self.offset = prompt_length

    def draft(self, q, t):
        return t

    def verify_block(self, P, Q, drafts, t0):
        accepted = 0
        while accepted < len(drafts) and self.flags[t0 - self.offset + accepted]:
            accepted += 1
        return accepted, t0 + accepted


class _Const:
    """A stand-in model: any context gives the same logits (only the loop is under test)."""

    calls = 0
    vocab_size = 3
    device = torch.device("cpu")

    def reset(self):
        pass

    def logits(self, context, count):
        return torch.zeros((count, 3), dtype=torch.float64)

    def next_token_logits(self, context):
        return torch.zeros(3, dtype=torch.float64)


@given(st.lists(st.booleans(), min_size=1, max_size=30), st.integers(1, 9))
def test_replay_equals_the_decoder_loop(flags, gamma):
    from coupling.decoding import decode

    real = decode(_Const(), _Const(), _FlagRule(flags), [0], gamma=gamma,
                  max_new_tokens=len(flags), sampling=SamplingConfig())  # fmt: skip
    r = replay(flags, gamma)
    assert r.accept_flags == real.stats.accept_flags
    assert (r.tokens, r.target_calls, r.drafter_calls, r.drafted, r.accepted) == (
        real.stats.tokens, real.stats.target_calls, real.stats.drafter_calls,
        real.stats.drafted, real.stats.accepted)  # fmt: skip


@pytest.mark.parametrize("n,gamma", [(1, 1), (5, 1), (7, 2), (9, 4), (10, 8)])
def test_expected_block_efficiency_equals_enumeration(n, gamma):
    """E[N / calls] by the dynamic programme equals the sum over all 2^n flag vectors."""
    alpha = np.random.default_rng(n + 10 * gamma).uniform(0, 1, n)
    total = 0.0
    for flags in itertools.product((False, True), repeat=n):
        weight = np.prod(np.where(flags, alpha, 1 - alpha))
        total += weight * replay(flags, gamma).block_efficiency
    assert expected_block_efficiency(alpha, gamma) == pytest.approx(total, abs=1e-12)
    flags = alpha > 0.5
    assert expected_block_efficiency(flags.astype(float), gamma) == pytest.approx(
        replay(flags, gamma).block_efficiency, abs=1e-12
    )


def test_constant_acceptance_matches_the_closed_form_without_end_effects():
    """With every flag accepted with probability a and N a multiple of gamma + 1 ... the
    expected calls per round tend to the textbook (1 - a^(g+1)) / (1 - a) tokens per call."""
    a, gamma = 0.6, 3
    closed = (1 - a ** (gamma + 1)) / (1 - a)
    long = expected_block_efficiency(np.full(400, a), gamma)
    assert long == pytest.approx(closed, rel=0.02)


@given(st.integers(2, 12), st.integers(0, 2**32 - 1))
def test_acceptance_rates_average_to_the_collision_probabilities(n, seed):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(n, 0.5))
    q = rng.dirichlet(np.full(n, 0.5))
    live = np.flatnonzero(p > 0)
    rates = np.array([acceptance_rates(p, q, y) for y in live])
    means = p[live] @ rates
    assert means[0] == pytest.approx(1 - exact.tv_distance(p, q), abs=1e-12)
    assert means[1] == pytest.approx(exact.collision_probability(p, q, "gumbel"), abs=1e-12)
    assert means[2] == pytest.approx(exact.collision_probability(p, q, "wmh"), abs=1e-12)
    assert np.all((rates >= 0) & (rates <= 1 + 1e-12))


@given(st.integers(2, 12), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_acceptance_rates_along_a_path_equal_the_scalar_twin(n, T, seed):
    """The vectorised rates at every position equal acceptance_rates one position at a time,
    zeros in q included."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(n, 0.5), size=T)
    q = rng.dirichlet(np.full(n, 0.5), size=T)
    q[:, 0] = 0.0
    q /= q.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n, p=row) for row in p])
    D = 0.5 * np.abs(p - q).sum(axis=1)
    fast = np.array(acceptance_rates_path(p, q, y, D)).T
    slow = np.array([acceptance_rates(p[t], q[t], y[t]) for t in range(T)])
    np.testing.assert_allclose(fast, slow, rtol=1e-12, atol=1e-15)


def test_speedup_formula():
    assert speedup(2.5, 4, 0.05) == pytest.approx(2.5 / 1.2)
    assert speedup(1.0, 1, 0.0) == 1.0


def test_replayed_disd_equals_the_real_decoder_on_tiny_models():
    """The simulated DISD run (flags from the batched paths and teacher-forced drafter passes
    of experiment 2) reproduces the real decoder exactly: tokens, accept flags and block
    efficiency, for every gamma."""
    target = tiny_llama(0, scale=2.0)
    drafter = ModelDrafter(tiny_llama(1, scale=2.0), "d")
    prompt = [3, 1, 4, 1, 5]
    rows = [(s, c) for s in range(4) for c in ("gumbel", "wmh")]
    records = score_paths(target, {"d": drafter}, prompt, rows, 16, SamplingConfig())
    lm = CachedLM(target)
    mixed = 0
    for rec in records:
        flags = [f == "1" for f in rec["drafters"]["d"]["flag"]]
        mixed += 0 < sum(flags) < len(flags)
        for gamma in (1, 2, 4, 8):
            real = disd(lm, drafter, prompt, seed=rec["seed"], gamma=gamma, max_new_tokens=16,
                        sampling=SamplingConfig(), coupling=rec["coupling"])  # fmt: skip
            rep = replay(flags, gamma)
            assert real.tokens == rec["tokens"]
            assert real.stats.accept_flags == rep.accept_flags
            assert real.stats.block_efficiency == rep.block_efficiency
    assert mixed >= 4  # the check saw both accepted and rejected drafts


def test_scored_paths_hold_the_exact_values():
    """The vectorised D_TV and WMH and the subsampled J_P equal simulate.exact's, and a
    temperature drafter (no model pass) gives what its own model pass would."""
    target = tiny_llama(4, scale=2.0)
    hot = ModelDrafter(target, "hot", temperature=1.25)
    cold = ModelDrafter(tiny_llama(4, scale=2.0), "copy", temperature=1.25)
    recs = score_paths(target, {"hot": hot, "copy": cold}, [1, 2], [(0, "gumbel")], 9,
                       SamplingConfig())  # fmt: skip
    a, b = recs[0]["drafters"]["hot"], recs[0]["drafters"]["copy"]
    np.testing.assert_allclose(a["tv"], b["tv"], atol=1e-6)
    assert a["flag"] == b["flag"]
    lm, s = CachedLM(target), SamplingConfig()
    toks = recs[0]["tokens"]
    for t in (0, JP_EVERY):
        z = lm.logits([1, 2, *toks[:t]], 1)[0]
        p, q = s.probs(z), s.probs(z / 1.25)
        assert a["tv"][t] == pytest.approx(exact.tv_distance(p, q), rel=1e-6)
        assert a["wmh_exact"][t] == pytest.approx(exact.collision_probability(p, q, "wmh"),
                                                  rel=1e-6)  # fmt: skip
        assert a["gumbel_exact"][t // JP_EVERY] == pytest.approx(
            exact.collision_probability(p, q, "gumbel"), rel=1e-6)  # fmt: skip


def test_in_law_sd_estimate_agrees_with_real_sd_runs():
    """Mean block efficiency of 160 real SD runs against the mean of the exact conditional
    expectation over 40 paths: within 5 standard errors of the difference."""
    target = tiny_llama(2, scale=1.5)
    drafter = ModelDrafter(tiny_llama(3, scale=1.5), "d")
    prompt, tokens, gamma = [2, 7, 1], 10, 3
    sampling = SamplingConfig()
    rows = [(s, "gumbel") for s in range(40)]
    records = score_paths(target, {"d": drafter}, prompt, rows, tokens, sampling)
    law = np.array([expected_block_efficiency(r["drafters"]["d"]["a_sd"], gamma)
                    for r in records])  # fmt: skip
    lm = CachedLM(target)
    real = np.array([standard_sd(lm, drafter, prompt, seed=s, gamma=gamma, max_new_tokens=tokens,
                                 sampling=sampling).stats.block_efficiency
                     for s in range(160)])  # fmt: skip
    se = np.sqrt(law.var(ddof=1) / law.size + real.var(ddof=1) / real.size)
    assert abs(law.mean() - real.mean()) < 5 * se
