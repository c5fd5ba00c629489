"""DISD in transformers' API on the real SmolLM2-135M target (marked ``model``): KeyedRace
through ``generate`` and the batched ``disd_generate`` against the project's reference."""

import pytest
from coupling.decoding import (
    CachedLM,
    KeyedRace,
    SamplingConfig,
    autoregressive,
    disd_generate,
    run_method,
)

pytestmark = pytest.mark.model
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

PROMPTS = ("What is the lower bound for sorting?", "What is post-quantum cryptography?",
           "Why is the sky blue?", "Name a prime.")  # fmt: skip
NEW = 16
#: Drafters that are whole transformers models (the target's weights rounded to 3 and 2 bits,
#: and the target in bfloat16).
DRAFTERS = ("q3g32", "q2g32", "bf16")


@pytest.fixture(scope="module")
def loaded():
    from coupling.paper_repro.model import load_model

    return load_model()


@pytest.fixture(scope="module")
def drafters(loaded):
    from coupling.paper_repro.drafters import make_drafter

    return {name: make_drafter(name, loaded) for name in DRAFTERS}


def _ids(loaded, prompt):
    return list(loaded.tokenizer(prompt).input_ids)


def _reference(loaded, ids, seed, sampling=None, coupling="gumbel", eos=None):
    return autoregressive(CachedLM(loaded.model), ids, seed=seed, max_new_tokens=NEW,
                          sampling=sampling or SamplingConfig(), coupling=coupling,
                          eos_token_id=eos).tokens  # fmt: skip


def _pad(loaded):
    pad = loaded.tokenizer.pad_token_id
    return loaded.model.generation_config.eos_token_id if pad is None else pad


def _batch(loaded, prompts):
    rows = [_ids(loaded, p) for p in prompts]
    width = max(map(len, rows))
    pad = _pad(loaded)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return rows, ids, mask


@pytest.mark.parametrize(("coupling", "settings"), [("gumbel", {"top_k": 50, "top_p": 0.9}),
                                                    ("wmh", {"temperature": 0.8})])  # fmt: skip
def test_keyed_race_in_generate_equals_the_reference(loaded, drafters, coupling, settings):
    ids = _ids(loaded, PROMPTS[0])
    eos = loaded.model.generation_config.eos_token_id
    want = _reference(loaded, ids, 3, SamplingConfig(**settings), coupling, eos)
    race = KeyedRace(seed=3, coupling=coupling, **settings)
    out = loaded.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=NEW,
                                logits_processor=[race])  # fmt: skip
    assert out[0, len(ids) :].tolist() == want
    assisted = loaded.model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=NEW,
                                     logits_processor=[race],
                                     assistant_model=drafters["q3g32"].lm.model)  # fmt: skip
    assert assisted[0, len(ids) :].tolist() == want


def test_disd_generate_is_the_reference_for_three_drafters(loaded, drafters):
    ids = _ids(loaded, PROMPTS[1])
    want = _reference(loaded, ids, 5)
    for drafter in drafters.values():
        out = disd_generate(loaded.model, drafter.lm.model, torch.tensor([ids]), seed=5,
                            max_new_tokens=NEW, eos_token_id=[])  # fmt: skip
        assert out.sequences[0, len(ids) :].tolist() == want


def test_a_ragged_padded_batch_of_four_prompts_equals_the_single_runs(loaded, drafters):
    rows, ids, mask = _batch(loaded, PROMPTS)
    draft = drafters["q3g32"].lm.model
    seeds = [0, 1, 2, 3]
    out = disd_generate(loaded.model, draft, ids, attention_mask=mask, seed=seeds,
                        max_new_tokens=NEW, eos_token_id=[])  # fmt: skip
    for r, (prompt, seed) in enumerate(zip(rows, seeds)):
        alone = disd_generate(loaded.model, draft, torch.tensor([prompt]), seed=seed,
                              max_new_tokens=NEW, eos_token_id=[])  # fmt: skip
        got = out.sequences[r, ids.shape[1] :].tolist()
        assert got == alone.sequences[0, len(prompt) :].tolist() == _reference(loaded, prompt,
                                                                              seed)  # fmt: skip
        assert int(out.target_calls[r]) == int(alone.target_calls[0])


def test_a_stop_string_inside_an_accepted_block_and_the_streamer(loaded, drafters):
    ids = _ids(loaded, PROMPTS[0])
    drafter = drafters["bf16"]  # the target in bfloat16 accepts long blocks
    loop = run_method("disd-gumbel", CachedLM(loaded.model), drafter, ids, seed=7, gamma=4,
                      max_new_tokens=NEW, sampling=SamplingConfig())  # fmt: skip
    want = loop.tokens
    # the first emitted token that was an accepted draft with a later token in its block
    flags, t, k, inside = loop.stats.accept_flags, 0, 0, None
    while t < NEW and inside is None:
        g, j = min(4, NEW - t - 1), 0
        while j < g and flags[k]:
            inside = t + j if inside is None else inside
            j, k = j + 1, k + 1
        k += j < g
        t += j + 1
    assert inside is not None, "no accepted draft: the test would prove nothing"
    stop = loaded.tokenizer.decode(want[: inside + 1])  # the text first complete there
    out = disd_generate(loaded.model, drafter.lm.model, torch.tensor([ids]), seed=7, gamma=4,
                        max_new_tokens=NEW, eos_token_id=[], stop_strings=[stop],
                        tokenizer=loaded.tokenizer)  # fmt: skip
    assert out.sequences[0, len(ids) :].tolist() == want[: inside + 1]

    class Collect(transformers.generation.BaseStreamer):
        def __init__(self):
            self.tokens = []

        def put(self, value):
            self.tokens.append(value.tolist())

        def end(self):
            self.tokens.append("end")

    streamer = Collect()
    out = disd_generate(loaded.model, drafter.lm.model, torch.tensor([ids]), seed=7, gamma=4,
                        max_new_tokens=NEW, eos_token_id=[], streamer=streamer)  # fmt: skip
    assert streamer.tokens[0] == [ids] and streamer.tokens[-1] == "end"
    assert [t for (t,) in streamer.tokens[1:-1]] == want


def test_refusals_on_the_real_model(loaded, drafters):
    ids = torch.tensor([_ids(loaded, PROMPTS[0])])
    draft = drafters["q3g32"].lm.model
    with pytest.raises(ValueError, match="temperature must be a number > 0"):
        disd_generate(loaded.model, draft, ids, seed=0, max_new_tokens=4, temperature=0)
    with pytest.raises(ValueError, match=r"target: a prompt of .* need 8,200 positions"):
        disd_generate(loaded.model, draft, ids, seed=0, max_new_tokens=8200 - ids.shape[1])
    _, padded, _ = _batch(loaded, PROMPTS)
    with pytest.raises(ValueError, match="looks left-padded"):
        disd_generate(loaded.model, draft, padded, seed=0, max_new_tokens=4,
                      pad_token_id=_pad(loaded))  # fmt: skip
