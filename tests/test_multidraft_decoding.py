"""Multi-draft DISD on tiny random Llamas: the strong variant reproduces the K-slot reference
token for token whatever the drafter (K = 1: DISD-Gumbel), the conditional variant depends on
the draft tokens only, both backends agree, the batched verify pass equals separate passes, the
per-slot races are those of the list coupling, and both variants are exact in law on a toy
problem (exact enumeration)."""

import numpy as np
import pytest
from coupling.decoding import (
    MultiDraftRule,
    autoregressive,
    check_method,
    disd,
    multidraft,
    run_method,
)
from coupling.decoding.lm import CachedLM
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.drafters import ModelDrafter
from coupling.proofs.multidraft_exact import verify_multidraft_exact
from coupling.simulate import (
    GLSColumns,
    gls_columns,
    gls_drafts,
    gls_pick,
    gls_target,
    gumbel_sample,
)
from lm_fixtures import one_torch_thread, tiny_llama, torch  # noqa: F401 (fixture)

PROMPT = [3, 1, 4, 1, 5]
TOKENS = 10
BACKENDS = ("numba", "torch")
S = SamplingConfig()


@pytest.fixture(scope="module")
def target_model():
    return tiny_llama(0, scale=3.0)


@pytest.fixture(scope="module")
def drafters(target_model):
    return {
        "self": ModelDrafter(target_model, "self"),
        "hot": ModelDrafter(target_model, "hot", temperature=2.0),
        "other": ModelDrafter(tiny_llama(7, layers=2, scale=3.0), "other"),
    }


class SameLogits:
    """Another drafter object giving the wrapped drafter's logits through an uncached forward
    pass of a copy of its model (the same numbers by another route)."""

    def __init__(self, model):
        import copy

        self.model = copy.deepcopy(model)

    def reset(self):
        pass

    def next_token_logits(self, context):
        with torch.inference_mode():
            return self.model(torch.tensor([context])).logits[0, -1].to(torch.float64)


def test_columns_are_the_list_couplings_races_on_both_backends():
    rng = np.random.default_rng(5)
    for _ in range(60):
        n = int(rng.integers(1, 40))
        p = rng.dirichlet(np.full(n, 0.3))
        k = int(rng.integers(1, 6))
        key = int(rng.integers(0, 2**40))
        cols = gls_columns(p, k, seed=11, key=key)
        assert gls_pick(cols, np.ones(k, bool)) == gls_target(p, k, seed=11, key=key)
        np.testing.assert_array_equal(cols.item, gls_drafts(p, k, seed=11, key=key))
        assert cols.item[0] == gumbel_sample(p, seed=11, key=key)
        dev = gls_columns(torch.tensor(p), k, seed=11, key=key)
        np.testing.assert_array_equal(dev.item.numpy(), cols.item)  # known answer: numba's
        np.testing.assert_allclose(dev.clock.numpy(), cols.clock, rtol=1e-14)
    rows = rng.dirichlet(np.ones(30), size=6)
    keys = np.arange(100, 106)
    both = gls_columns(rows, 3, seed=2, key=keys)
    dev = gls_columns(torch.tensor(rows), 3, seed=2, key=torch.tensor(keys))
    np.testing.assert_array_equal(dev.item.numpy(), both.item)
    mask = np.array([[True, False, True]] * 6)
    np.testing.assert_array_equal(gls_pick(dev, torch.tensor(mask)).numpy(), gls_pick(both, mask))
    for r in range(6):  # rows with one key each = one distribution per key
        np.testing.assert_array_equal(gls_columns(rows[r], 3, seed=2, key=keys[r]).item,
                                      both.item[r])  # fmt: skip


def test_pick_is_the_lowest_clock_among_active_slots_and_refuses_none():
    cols = GLSColumns(np.array([0.5, 0.2, 0.2]), np.array([3, 4, 1]))
    assert gls_pick(cols, [True, True, True]) == 1  # tie on the clock: the lower item
    assert gls_pick(cols, [True, True, False]) == 4
    assert gls_pick(cols, [True, False, False]) == 3
    with pytest.raises(ValueError, match="at least one slot"):
        gls_pick(cols, [False, False, False])


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("backend", BACKENDS)
def test_strong_equals_reference_for_every_drafter(target_model, drafters, backend):
    target = CachedLM(target_model)
    for k in (2, 4):
        for seed in range(3):
            ref = autoregressive(target, PROMPT, seed=seed, max_new_tokens=TOKENS, sampling=S,
                                 coupling="gls", drafts=k, backend=backend).tokens  # fmt: skip
            for name, d in drafters.items():
                for gamma in (1, 3):
                    got = multidraft(target, d, PROMPT, seed=seed, drafts=k, gamma=gamma,
                                     max_new_tokens=TOKENS, sampling=S,
                                     backend=backend)  # fmt: skip
                    assert got.tokens == ref, (k, seed, name, gamma)
                    assert got.stats.tokens == TOKENS


@pytest.mark.usefixtures("one_torch_thread")
def test_one_draft_strong_is_disd_gumbel(target_model, drafters):
    target = CachedLM(target_model)
    for seed in range(4):
        for name in ("hot", "other"):
            a = multidraft(target, drafters[name], PROMPT, seed=seed, drafts=1, gamma=3,
                           max_new_tokens=TOKENS, sampling=S)  # fmt: skip
            b = disd(target, drafters[name], PROMPT, seed=seed, gamma=3, max_new_tokens=TOKENS,
                     sampling=S)  # fmt: skip
            assert a.tokens == b.tokens
            assert a.stats.accept_flags == b.stats.accept_flags
            assert a.stats.target_calls == b.stats.target_calls


@pytest.mark.usefixtures("one_torch_thread")
def test_conditional_depends_on_draft_tokens_only(target_model, drafters):
    target = CachedLM(target_model)
    same = SameLogits(target_model)
    differ = 0
    for seed in range(4):
        run = {name: multidraft(target, d, PROMPT, seed=seed, drafts=3, gamma=3,
                                max_new_tokens=TOKENS, sampling=S, variant="conditional")
               for name, d in (("self", drafters["self"]), ("copy", same),
                               ("other", drafters["other"]))}  # fmt: skip
        again = multidraft(target, drafters["self"], PROMPT, seed=seed, drafts=3, gamma=3,
                           max_new_tokens=TOKENS, sampling=S, variant="conditional")  # fmt: skip
        assert run["self"].tokens == again.tokens == run["copy"].tokens
        assert run["self"].stats.accept_flags == run["copy"].stats.accept_flags
        strong = autoregressive(target, PROMPT, seed=seed, max_new_tokens=TOKENS, sampling=S,
                                coupling="gls", drafts=3).tokens  # fmt: skip
        differ += run["other"].tokens != run["self"].tokens or run["self"].tokens != strong
    assert differ  # the conditional variant's tokens do depend on the drafts


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("variant", ["strong", "conditional"])
def test_backends_give_identical_tokens(target_model, drafters, variant):
    target = CachedLM(target_model)
    for seed in range(3):
        runs = [multidraft(target, drafters["other"], PROMPT, seed=seed, drafts=4, gamma=3,
                           max_new_tokens=TOKENS, sampling=S, variant=variant, backend=b)
                for b in BACKENDS]  # fmt: skip
        assert runs[0].tokens == runs[1].tokens
        assert runs[0].stats.accept_flags == runs[1].stats.accept_flags


@pytest.mark.usefixtures("one_torch_thread")
def test_self_drafting_conditional_accepts_everything_strong_does_not(target_model, drafters):
    """With q = p each surviving slot's draft is its own race of p: the conditional race over
    the survivors always picks one of their drafts, the strong race over all K may not."""
    target = CachedLM(target_model)
    cond = multidraft(target, drafters["self"], PROMPT, seed=1, drafts=4, gamma=3,
                      max_new_tokens=30, sampling=S, variant="conditional")  # fmt: skip
    assert cond.stats.accepted == cond.stats.drafted
    strong = [multidraft(target, drafters["self"], PROMPT, seed=s, drafts=4, gamma=3,
                         max_new_tokens=30, sampling=S) for s in range(3)]  # fmt: skip
    assert sum(r.stats.drafted - r.stats.accepted for r in strong) > 0


@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("gamma,horizon", [(1, 4), (50, 5), (4, 1), (4, 2)])
def test_gamma_edges_emit_exactly_the_horizon(target_model, drafters, gamma, horizon):
    target = CachedLM(target_model)
    ref = autoregressive(target, PROMPT, seed=5, max_new_tokens=horizon, sampling=S,
                         coupling="gls", drafts=3).tokens  # fmt: skip
    for variant in ("strong", "conditional"):
        out = multidraft(target, drafters["other"], PROMPT, seed=5, drafts=3, gamma=gamma,
                         max_new_tokens=horizon, sampling=S, variant=variant)  # fmt: skip
        assert len(out.tokens) == horizon and out.stats.target_calls <= horizon
        if variant == "strong":
            assert out.tokens == ref


def test_branch_logits_equal_separate_passes_and_the_cache_continues(target_model):
    lm, ref = CachedLM(target_model), CachedLM(target_model)
    context = [1, 3, 4, 5]
    branches = [[6, 7, 8], [6, 9, 10], [11, 12, 13]]
    got = lm.branch_logits(context, branches)
    assert tuple(got.shape) == (3, 4, target_model.config.vocab_size)
    for b, branch in enumerate(branches):
        np.testing.assert_allclose(got[b], ref.logits(context + branch, 4), rtol=0, atol=1e-12)
    nxt = [*context, 6, 9, 2]  # continues branch 1: its cache row is kept
    ref.reset()
    np.testing.assert_allclose(lm.logits(nxt, 2), ref.logits(nxt, 2), rtol=0, atol=1e-12)
    assert lm.cached_tokens == nxt
    with pytest.raises(ValueError, match="one length"):
        lm.branch_logits(context, [[1], [1, 2]])


def test_methods_and_refusals(target_model, drafters):
    target = CachedLM(target_model)
    a = run_method("mdisd-strong", target, drafters["other"], PROMPT, seed=0, gamma=2,
                   max_new_tokens=6, sampling=S, drafts=2)  # fmt: skip
    b = run_method("autoregressive", target, None, PROMPT, seed=0, gamma=2, max_new_tokens=6,
                   sampling=S, coupling="gls", drafts=2)  # fmt: skip
    assert a.tokens == b.tokens
    with pytest.raises(ValueError, match="needs drafts"):
        check_method("mdisd-conditional")
    with pytest.raises(ValueError, match="needs drafts"):
        check_method("autoregressive", "gls")
    with pytest.raises(ValueError, match="drafts applies"):
        check_method("disd-gumbel", drafts=2)
    with pytest.raises(ValueError, match=r"drafts must lie in \[1, 64\]"):
        check_method("mdisd-strong", drafts=0)
    with pytest.raises(TypeError, match="drafts must be an int"):
        MultiDraftRule(0, 2.0)
    with pytest.raises(ValueError, match="variant"):
        MultiDraftRule(0, 2, "weak")


def test_exact_in_law_by_enumeration_and_a_wrong_rule_is_refuted():
    cert = verify_multidraft_exact()
    assert cert.verdict == "proved", cert.detail
    assert cert.detail["strong_outcomes_differing_between_drafters"] == 0
    assert cert.detail["conditional_outcomes_differing_between_drafters"] > 0
    assert verify_multidraft_exact(mismatch_emits_draft=True).verdict == "refuted"


def test_strong_cost_pairs_runs_and_gives_intervals():
    from coupling.paper_repro.multidraft_runs import strong_cost

    recs = []
    for seed in range(4):
        recs.append({"prompt": "a", "seed": seed, "drafter": "d", "method": "disd-gumbel",
                     "drafts": 1, "block_efficiency": 2.0})  # fmt: skip
        for method, be in (("mdisd-strong", 2.0 + seed), ("mdisd-conditional", 3.0 + seed)):
            recs.append({"prompt": "a", "seed": seed, "drafter": "d", "method": method,
                         "drafts": 2, "block_efficiency": be})  # fmt: skip
    (row, _all) = strong_cost(recs)
    assert row["runs"] == 4 and row["cost"][0] == pytest.approx(1.0)
    assert row["cost"][1] == pytest.approx(1.0) == row["cost"][2]  # constant difference
    assert row["strong"][0] == pytest.approx(3.5) and row["disd"][0] == 2.0
