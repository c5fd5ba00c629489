"""Decoders on tiny random Llamas: DISD reproduces the reference token for token, SD and DISD
follow the target's law, wrong rules are caught, caches roll back, edge cases behave. Every
rule runs on both sampling backends: numba on host arrays and torch on the tensors' device."""

import numpy as np
import pytest
from coupling.decoding import (
    DisdRule,
    StandardRule,
    autoregressive,
    decode,
    disd,
    standard_sd,
)
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.drafters import ModelDrafter
from coupling.paper_repro.exits import build_early_exit, new_adapter
from lm_fixtures import VOCAB, tiny_llama, torch
from scipy import stats

PROMPT = [3, 1, 4, 1, 5]
BACKENDS = ("numba", "torch")
#: goodness-of-fit tests reject at this p-value: a correct decoder fails once in 10^4 runs
GOF_ALPHA = 1e-4


@pytest.fixture(scope="module")
def target_model():
    return tiny_llama(0, scale=3.0)


@pytest.fixture(scope="module")
def drafters(target_model):
    return {
        "exit2": ModelDrafter(build_early_exit(target_model, 2), "exit2"),
        "exit1-adapter": ModelDrafter(
            build_early_exit(target_model, 1, new_adapter(target_model, 1)), "exit1-adapter"
        ),
        "other": ModelDrafter(tiny_llama(7, layers=2, scale=3.0), "other"),
    }


def _exact_first_token(model, prompt):
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0, -1]
    return torch.softmax(logits, -1).numpy()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("coupling", ["gumbel", "wmh"])
def test_disd_equals_reference_for_every_seed_and_drafter(target_model, drafters, coupling,
                                                          backend):  # fmt: skip
    target = CachedLM(target_model)
    s = SamplingConfig()
    for seed in range(12):
        ref = autoregressive(target, PROMPT, seed=seed, max_new_tokens=10, sampling=s,
                             coupling=coupling, backend=backend).tokens  # fmt: skip
        for name, d in drafters.items():
            for gamma in (1, 3, 8):
                got = disd(target, d, PROMPT, seed=seed, gamma=gamma, max_new_tokens=10,
                           sampling=s, coupling=coupling, backend=backend)  # fmt: skip
                assert got.tokens == ref, (seed, name, gamma)
                assert got.stats.tokens == 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_sd_depends_on_drafter_for_fixed_seed(target_model, drafters, backend):
    target = CachedLM(target_model)
    s = SamplingConfig()
    outs = {name: tuple(tuple(standard_sd(target, d, PROMPT, seed=seed, gamma=3, max_new_tokens=10,
                                    sampling=s, backend=backend).tokens) for seed in range(8))
            for name, d in drafters.items()}  # fmt: skip
    assert len(set(outs.values())) > 1


@pytest.mark.parametrize("rule", ["sd", "disd-gumbel", "disd-wmh"])
def test_verify_block_is_the_same_on_both_backends(rule):
    """On the same float64 blocks the torch rule's (accepted, token) is the numba rule's."""
    rng = np.random.default_rng(0)
    make = {"sd": lambda b: StandardRule(7, backend=b),
            "disd-gumbel": lambda b: DisdRule(7, "gumbel", b),
            "disd-wmh": lambda b: DisdRule(7, "wmh", b)}[rule]  # fmt: skip
    seen = set()
    for trial in range(200):
        g = int(rng.integers(0, 5))
        P = rng.dirichlet(np.full(VOCAB, 0.3), size=g + 1)
        Q = 0.5 * P[:g] + 0.5 * rng.dirichlet(np.full(VOCAB, 0.3), size=g)
        drafts = [make("numba").draft(Q[j], 3 * trial + j) for j in range(g)]
        got = make("torch").verify_block(torch.from_numpy(P), torch.from_numpy(Q), drafts,
                                         3 * trial)  # fmt: skip
        assert got == make("numba").verify_block(P, Q, drafts, 3 * trial)
        if rule != "sd":  # DISD emits the target's own sample at the first mismatch
            assert got[1] == make("numba").sample(P[got[0]], 3 * trial + got[0])
        seen.add(got[0] == g)
    assert seen == {True, False}  # both full blocks and rejections were checked


def test_drafter_elsewhere_is_refused(target_model):
    class HostDrafter:
        def reset(self):
            pass

        def next_token_logits(self, context):
            return np.zeros(VOCAB)

    with pytest.raises(ValueError, match="drafter gave a numpy array over 24 tokens"):
        disd(CachedLM(target_model), HostDrafter(), PROMPT, seed=0, gamma=2, max_new_tokens=4,
             sampling=SamplingConfig())  # fmt: skip


def _first_token_counts(target, drafter, rule_factory, runs):
    counts = np.zeros(VOCAB)
    s = SamplingConfig()
    for seed in range(runs):
        # one draft: the first token is its verdict
        out = decode(target, drafter, rule_factory(seed), PROMPT, gamma=1, max_new_tokens=2,
                     sampling=s)  # fmt: skip
        counts[out.tokens[0]] += 1
    return counts


def _gof_pvalue(counts, p):
    keep = p * counts.sum() >= 5  # pool the rare tokens into one bin
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(p[keep], p[~keep].sum()) * counts.sum()
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp).pvalue


# Laws on the numba backend: the torch rules give the same (accepted, token) on the same blocks
# (test_verify_block_is_the_same_on_both_backends), so their laws are these.
@pytest.mark.parametrize("rule", ["sd", "disd-gumbel", "disd-wmh"])
def test_first_drafted_token_follows_target_law(target_model, drafters, rule):
    factory = {"sd": lambda s: StandardRule(s, backend="numba"),
               "disd-gumbel": lambda s: DisdRule(s, "gumbel", "numba"),
               "disd-wmh": lambda s: DisdRule(s, "wmh", "numba")}[rule]  # fmt: skip
    p = _exact_first_token(target_model, PROMPT)
    counts = _first_token_counts(CachedLM(target_model), drafters["other"], factory, 3000)
    assert _gof_pvalue(counts, p) > GOF_ALPHA


def test_wrong_residual_is_detected(target_model, drafters):
    p = _exact_first_token(target_model, PROMPT)
    wrong = lambda seed: StandardRule(seed, residual_fn=lambda p, q: p, backend="numba")  # noqa: E731
    counts = _first_token_counts(CachedLM(target_model), drafters["other"], wrong, 3000)
    assert _gof_pvalue(counts, p) < GOF_ALPHA


def test_cache_rollback_matches_fresh_forward(target_model, drafters):
    target = CachedLM(target_model)
    out = standard_sd(target, drafters["other"], PROMPT, seed=3, gamma=4, max_new_tokens=12,
                      sampling=SamplingConfig())  # fmt: skip
    assert out.stats.drafted > out.stats.accepted  # some rejections happened
    seq = PROMPT + out.tokens
    cached = target.cached_tokens
    assert cached == seq[: len(cached)]
    for context, count in ((seq, 3), ([*seq[:-2], 0, 1], 2), (seq[:7], 1)):
        got = target.logits(context, count)
        with torch.no_grad():
            ref = target_model(torch.tensor([context])).logits[0, -count:].numpy()
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("gamma,horizon", [(1, 6), (50, 5), (4, 1), (4, 2)])
def test_gamma_edges_emit_exactly_the_horizon(target_model, drafters, gamma, horizon):
    target = CachedLM(target_model)
    s = SamplingConfig()
    ref = autoregressive(target, PROMPT, seed=5, max_new_tokens=horizon, sampling=s).tokens
    out = disd(target, drafters["exit2"], PROMPT, seed=5, gamma=gamma, max_new_tokens=horizon,
               sampling=s)  # fmt: skip
    assert out.tokens == ref and len(ref) == horizon
    assert out.stats.target_calls <= horizon
    sd = standard_sd(target, drafters["exit2"], PROMPT, seed=5, gamma=gamma,
                     max_new_tokens=horizon, sampling=s)  # fmt: skip
    assert len(sd.tokens) == horizon


def test_greedy_and_filters_agree_across_methods(target_model, drafters):
    target = CachedLM(target_model)
    for s in (SamplingConfig(greedy=True), SamplingConfig(temperature=0.7, top_k=5, top_p=0.9)):
        ref = autoregressive(target, PROMPT, seed=2, max_new_tokens=8, sampling=s).tokens
        got = disd(target, drafters["other"], PROMPT, seed=2, gamma=3, max_new_tokens=8,
                   sampling=s)  # fmt: skip
        assert got.tokens == ref
    greedy = SamplingConfig(greedy=True)
    sd = standard_sd(target, drafters["other"], PROMPT, seed=9, gamma=3, max_new_tokens=8,
                     sampling=greedy)  # fmt: skip
    assert sd.tokens == autoregressive(target, PROMPT, seed=0, max_new_tokens=8,
                                       sampling=greedy).tokens  # fmt: skip


def test_eos_stops_all_decoders(target_model, drafters):
    target = CachedLM(target_model)
    s = SamplingConfig()
    ref = autoregressive(target, PROMPT, seed=1, max_new_tokens=10, sampling=s).tokens
    eos = ref[4]
    cut = ref[: ref.index(eos) + 1]
    assert autoregressive(target, PROMPT, seed=1, max_new_tokens=10, sampling=s,
                          eos_token_id=eos).tokens == cut  # fmt: skip
    assert disd(target, drafters["exit2"], PROMPT, seed=1, gamma=3, max_new_tokens=10,
                sampling=s, eos_token_id=eos).tokens == cut  # fmt: skip


@pytest.mark.parametrize("kwargs,match", [
    ({"prompt_ids": []}, "prompt is empty"),
    ({"gamma": 0}, "gamma must be >= 1"),
    ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
])  # fmt: skip
def test_bad_decode_arguments(target_model, drafters, kwargs, match):
    args = {"prompt_ids": PROMPT, "gamma": 2, "max_new_tokens": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        disd(CachedLM(target_model), drafters["exit2"], args.pop("prompt_ids"), seed=0,
             sampling=SamplingConfig(), **args)  # fmt: skip
