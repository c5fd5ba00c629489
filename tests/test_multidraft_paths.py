"""The batched multi-draft replay equals the decoder: tokens, target calls and accepted counts
of both variants for several seeds, K and gamma (rows of mixed K in one batch), and K = 1
strong is DISD-Gumbel's replay from its acceptance flags."""

import pytest
from coupling.decoding import DisdRule, disd, multidraft, token_key
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.block_efficiency import replay
from coupling.paper_repro.drafters import ModelDrafter
from coupling.paper_repro.multidraft_paths import (
    Rounds,
    replay_conditional,
    replay_strong,
    strong_paths,
)
from lm_fixtures import one_torch_thread, tiny_llama, torch  # noqa: F401 (fixture)

PROMPT = [3, 1, 4, 1, 5]
TOKENS = 9
S = SamplingConfig()
ROWS = [(seed, k) for seed in range(3) for k in (1, 2, 4)]


@pytest.fixture(scope="module")
def target_model():
    return tiny_llama(0, scale=3.0)


@pytest.fixture(scope="module")
def drafters(target_model):
    return {
        "hot": ModelDrafter(target_model, "hot", temperature=2.0),
        "other": ModelDrafter(tiny_llama(7, layers=2, scale=3.0), "other"),
    }


def _decoded(target, drafter, variant, gamma):
    return [multidraft(target, drafter, PROMPT, seed=seed, drafts=k, gamma=gamma,
                       max_new_tokens=TOKENS, sampling=S, variant=variant, backend="numba")
            for seed, k in ROWS]  # fmt: skip


def _assert_same(replayed, decoded, label):
    for (seed, k), rep, dec in zip(ROWS, replayed, decoded):
        where = (label, seed, k)
        assert (rep.seed, rep.drafts) == (seed, k), where
        assert rep.tokens == dec.tokens, where
        assert rep.target_calls == dec.stats.target_calls, where
        assert rep.accepted == dec.stats.accepted, where


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("gamma", [1, 3])
def test_replay_equals_decoder_for_both_variants(target_model, drafters, gamma):
    target = CachedLM(target_model)
    strong = replay_strong(target_model, drafters, PROMPT, ROWS, gamma=gamma, tokens=TOKENS,
                           sampling=S)  # fmt: skip
    for name, drafter in drafters.items():
        decoded = _decoded(target, drafter, "strong", gamma)
        _assert_same(strong[name], decoded, (name, "strong"))
        paths, _ = strong_paths(target_model, PROMPT, ROWS, tokens=TOKENS, sampling=S)
        assert paths == [d.tokens for d in decoded]
        cond = replay_conditional(target_model, drafter, PROMPT, ROWS, gamma=gamma,
                                  tokens=TOKENS, sampling=S)  # fmt: skip
        _assert_same(cond, _decoded(target, drafter, "conditional", gamma), (name, "cond"))


@pytest.mark.usefixtures("one_torch_thread")
def test_one_draft_strong_is_disd_gumbel_replay(target_model, drafters):
    rows = [(seed, 1) for seed in range(4)]
    strong = replay_strong(target_model, drafters, PROMPT, rows, gamma=3, tokens=TOKENS,
                           sampling=S)  # fmt: skip
    target = CachedLM(target_model)
    for name, drafter in drafters.items():
        for seed, rep in zip(range(4), strong[name]):
            run = disd(target, drafter, PROMPT, seed=seed, gamma=3, max_new_tokens=TOKENS,
                       sampling=S)  # fmt: skip
            assert rep.tokens == run.tokens
            rule = DisdRule(seed, "gumbel")
            q = [S.probs(drafter.next_token_logits(PROMPT + run.tokens[:t]))
                 for t in range(TOKENS)]  # fmt: skip
            flags = [rule.draft(q[t], token_key(len(PROMPT), t)) == y
                     for t, y in enumerate(run.tokens)]  # fmt: skip
            ref = replay(flags, 3)
            assert (rep.target_calls, rep.accepted) == (ref.target_calls, ref.accepted)


def test_rounds_count_a_hand_worked_run():
    # K = 2, gamma = 2, 5 tokens: round 1 drafts t = 0, 1 (slot 1 survives both, bonus at
    # t = 2); round 2 drafts t = 3 (no survivor: emits the target's token); round 3 is t = 4.
    run = Rounds(2, 2, 5, "conditional")
    run.advance(7, [7, 7])
    assert list(run.racers()) == [True, True]
    run.advance(8, [9, 8])
    assert list(run.racers()) == [False, True]
    run.advance(5)
    run.advance(1, [2, 3])
    assert not run.drafting()
    run.advance(4)
    assert (run.tokens, run.calls, run.accepted) == ([7, 8, 5, 1, 4], 3, 2)
    with pytest.raises(ValueError, match="variant"):
        Rounds(2, 2, 5, "weak")
