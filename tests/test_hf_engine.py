"""DISD in transformers' own API, on tiny random Llama and Gemma-2 models: KeyedRace through
``generate`` (alone and as assisted generation) and the batched ``disd_generate``, each
against the project's single-sequence reference decoders."""

import contextlib
import warnings

import numpy as np
import pytest
from coupling.decoding import (
    CachedLM,
    DisdGenerateOutput,
    KeyedRace,
    SamplingConfig,
    autoregressive,
    decode_multidraft,
    disd_custom_generate,
    disd_generate,
    run_method,
)
from coupling.decoding.compat import cache_argument, forward, new_cache
from coupling.decoding.multidraft import MultiDraftRule
from coupling.paper_repro.drafters import ModelDrafter
from lm_fixtures import (
    char_tokenizer,
    one_torch_thread,
    tiny_gemma2,
    tiny_llama,
    torch,
    transformers,
    word_tokenizer,
)

PROMPTS = ([1, 5, 6, 7], [1, 3, 4], [1, 8, 9, 10, 11, 12], [1, 13])
NEW = 12

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)


@pytest.fixture(scope="module", params=["llama", "gemma2"])
def models(request):
    """(target, three drafters: two unrelated models and one close to the target)."""
    make = tiny_llama if request.param == "llama" else tiny_gemma2
    target = make(0, scale=3.0)
    close = make(0, scale=2.5)  # the target's weights with flatter logits
    return target, (make(1, scale=3.0), make(2, scale=1.0), close)


def _reference(target, prompt, seed, sampling=None, coupling="gumbel", drafts=None, eos=None):
    """The reference decoder's tokens (stopping at ``eos`` when given, as generate does at the
    model's own EOS)."""
    return autoregressive(CachedLM(target), prompt, seed=seed, max_new_tokens=NEW,
                          sampling=sampling or SamplingConfig(), coupling=coupling,
                          drafts=drafts, eos_token_id=eos).tokens  # fmt: skip


def _eos(model):
    return model.generation_config.eos_token_id


def _padded(prompts, pad=0):
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def _new_tokens(out, width):
    return [out.sequences[r, width : width + int(out.new_tokens[r])].tolist()
            for r in range(out.sequences.shape[0])]  # fmt: skip


# --- KeyedRace through transformers' generate ------------------------------------------------


@pytest.mark.parametrize("coupling", ["gumbel", "wmh"])
@pytest.mark.parametrize("settings", [{}, {"temperature": 0.7, "top_k": 5},
                                      {"top_p": 0.8, "temperature": 1.3}])  # fmt: skip
def test_keyed_race_in_generate_equals_the_reference(models, coupling, settings):
    target, _ = models
    for seed in (0, 5):
        race = KeyedRace(seed=seed, coupling=coupling, **settings)
        out = target.generate(torch.tensor([PROMPTS[0]]), do_sample=False, max_new_tokens=NEW,
                              logits_processor=[race], pad_token_id=0)  # fmt: skip
        want = _reference(target, PROMPTS[0], seed, SamplingConfig(**settings), coupling,
                          eos=_eos(target))  # fmt: skip
        assert out[0, len(PROMPTS[0]) :].tolist() == want


def test_keyed_race_with_an_assistant_is_disd_in_transformers(models):
    """transformers hands the call's logits processors to the assistant's generate, so the
    drafter proposes its own race winner and the target keeps its own: the tokens are the
    reference's whatever the drafter."""
    target, drafters = models
    ids = torch.tensor([PROMPTS[2]])
    for seed in (1, 4):
        want = _reference(target, PROMPTS[2], seed, eos=_eos(target))
        for drafter in drafters:
            out = target.generate(ids, do_sample=False, max_new_tokens=NEW, pad_token_id=0,
                                  logits_processor=[KeyedRace(seed=seed)],
                                  assistant_model=drafter)  # fmt: skip
            assert out[0, ids.shape[1] :].tolist() == want


def test_keyed_race_counts_positions_from_the_first_real_token(models):
    """A left-padded batch in plain generate: each row's tokens are its prompt's alone."""
    target, _ = models
    ids, mask = _padded(PROMPTS)
    seeds = [3, 1, 4, 1]
    race = KeyedRace(seed=seeds, attention_mask=mask)
    out = target.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW,
                          logits_processor=[race], pad_token_id=0)  # fmt: skip
    for r, (prompt, seed) in enumerate(zip(PROMPTS, seeds)):
        want = _reference(target, prompt, seed, eos=_eos(target))
        assert out[r, ids.shape[1] : ids.shape[1] + len(want)].tolist() == want


def test_a_continued_conversation_draws_fresh_noise(models):
    """Keys are absolute positions: generating 6 tokens, then 6 more after them, gives the
    12 tokens of one call, and the second call's noise is not the first call's."""
    target, _ = models
    prompt = PROMPTS[0]
    whole = _reference(target, prompt, seed=2)
    first = autoregressive(CachedLM(target), prompt, seed=2, max_new_tokens=6,
                           sampling=SamplingConfig()).tokens  # fmt: skip
    second = autoregressive(CachedLM(target), prompt + first, seed=2, max_new_tokens=6,
                            sampling=SamplingConfig()).tokens  # fmt: skip
    assert first + second == whole
    race = KeyedRace(seed=2)
    ids = torch.tensor([prompt])
    assert race.keys(ids).tolist() == [len(prompt)]
    assert race.keys(torch.tensor([prompt + first])).tolist() == [len(prompt) + 6]


# --- disd_generate ---------------------------------------------------------------------------


@pytest.mark.parametrize("coupling", ["gumbel", "wmh"])
def test_disd_generate_is_the_reference_for_every_drafter(models, coupling):
    target, drafters = models
    ids = torch.tensor([PROMPTS[0]])
    want = _reference(target, PROMPTS[0], 7, coupling=coupling)
    efficiencies = []
    for drafter in drafters:
        out = disd_generate(target, drafter, ids, seed=7, max_new_tokens=NEW, gamma=3,
                            coupling=coupling, eos_token_id=[])  # fmt: skip
        assert isinstance(out, DisdGenerateOutput)
        assert _new_tokens(out, ids.shape[1]) == [want]
        efficiencies.append(float(out.block_efficiency[0]))
    assert efficiencies[2] >= efficiencies[1]  # the close drafter does at least as well


def test_a_ragged_padded_batch_equals_the_single_runs(models):
    """Four left-padded prompts with a seed each: every row's tokens and counters are those
    of the prompt decoded alone (and of the project's own loop), and more padding changes
    nothing."""
    target, drafters = models
    seeds = [0, 1, 2, 3]
    ids, mask = _padded(PROMPTS)
    out = disd_generate(target, drafters[0], ids, attention_mask=mask, seed=seeds,
                        max_new_tokens=NEW, gamma=3, eos_token_id=[])  # fmt: skip
    got = _new_tokens(out, ids.shape[1])
    for r, (prompt, seed) in enumerate(zip(PROMPTS, seeds)):
        alone = disd_generate(target, drafters[0], torch.tensor([prompt]), seed=seed,
                              max_new_tokens=NEW, gamma=3, eos_token_id=[])  # fmt: skip
        loop = run_method("disd-gumbel", CachedLM(target), ModelDrafter(drafters[0], "d"),
                          prompt, seed=seed, gamma=3, max_new_tokens=NEW,
                          sampling=SamplingConfig())  # fmt: skip
        assert got[r] == _new_tokens(alone, len(prompt))[0] == loop.tokens
        assert got[r] == _reference(target, prompt, seed)
        for name in ("target_calls", "drafter_calls", "drafted", "accepted"):
            assert int(getattr(out, name)[r]) == int(getattr(alone, name)[0])
            assert int(getattr(out, name)[r]) == getattr(loop.stats, name), name
    wider = torch.cat([torch.zeros((4, 3), dtype=torch.int64), ids], dim=1)
    wider_mask = torch.cat([torch.zeros((4, 3), dtype=torch.int64), mask], dim=1)
    again = disd_generate(target, drafters[0], wider, attention_mask=wider_mask, seed=seeds,
                          max_new_tokens=NEW, gamma=3, eos_token_id=[])  # fmt: skip
    assert _new_tokens(again, wider.shape[1]) == got


@contextlib.contextmanager
def _counting(*models):
    """The batch size of every forward call of ``models`` inside the block (a forward
    pre-hook: the model's own signature, which transformers inspects, stays intact)."""
    sizes = []

    def record(module, args, kwargs):
        sizes.append(kwargs["input_ids"].shape[0])

    handles = [m.register_forward_pre_hook(record, with_kwargs=True) for m in models]
    try:
        yield sizes
    finally:
        for handle in handles:
            handle.remove()


def test_finished_rows_leave_the_batch_and_stop_at_eos(models):
    target, drafters = models
    seeds = [0, 1, 2, 3]
    ids, mask = _padded(PROMPTS)
    refs = [_reference(target, p, s) for p, s in zip(PROMPTS, seeds)]
    eos = refs[1][2]  # row 1 ends at its third token (others may end at it too)
    with _counting(target) as sizes:
        out = disd_generate(target, drafters[2], ids, attention_mask=mask, seed=seeds,
                            max_new_tokens=NEW, gamma=3, eos_token_id=eos,
                            pad_token_id=23)  # fmt: skip
    width = ids.shape[1]
    for r, ref in enumerate(refs):
        stop = ref.index(eos) + 1 if eos in ref else NEW
        assert _new_tokens(out, width)[r] == ref[:stop]
        assert out.sequences[r, width + stop :].tolist() == [23] * (out.sequences.shape[1]
                                                                  - width - stop)  # fmt: skip
    assert sizes[0] == 4 and min(sizes) < 4  # finished rows cost no more target passes
    assert sum(sizes) == int(out.target_calls.sum())


def _accepted_draft_indices(flags, gamma, n):
    """The output indices that were accepted drafts, from a run's acceptance flags."""
    out, t, k = [], 0, 0
    while t < n:
        g, j = min(gamma, n - t - 1), 0
        while j < g and flags[k]:
            out.append(t + j)
            j, k = j + 1, k + 1
        k += j < g
        t += j + 1
    return out


def test_stop_strings_and_criteria_apply_inside_accepted_blocks(models):
    """A stop string (or criterion) that fires at an accepted draft with more tokens after it
    in its block ends the row at that token, not at the block's end."""
    target, drafters = models
    tok = char_tokenizer()
    want = _reference(target, PROMPTS[0], 3)
    loop = run_method("disd-gumbel", CachedLM(target), ModelDrafter(drafters[2], "d"),
                      PROMPTS[0], seed=3, gamma=4, max_new_tokens=NEW,
                      sampling=SamplingConfig())  # fmt: skip
    inside = [i for i in _accepted_draft_indices(loop.stats.accept_flags, 4, NEW)
              if want[i] >= 3 and want.index(want[i]) == i]  # a letter, first seen there
    assert inside, "the close drafter accepted no draft: the test would prove nothing"
    i = inside[0]
    common = {"seed": 3, "gamma": 4, "max_new_tokens": NEW, "eos_token_id": []}
    out = disd_generate(target, drafters[2], torch.tensor([PROMPTS[0]]), **common,
                        stop_strings=tok.convert_ids_to_tokens(want[i]), tokenizer=tok)
    assert _new_tokens(out, len(PROMPTS[0]))[0] == want[: i + 1]

    class Stop(transformers.StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.tensor([input_ids.shape[1] >= len(PROMPTS[0]) + i + 1])

    out = disd_generate(target, drafters[2], torch.tensor([PROMPTS[0]]), **common,
                        stopping_criteria=[Stop()])  # fmt: skip
    assert _new_tokens(out, len(PROMPTS[0]))[0] == want[: i + 1]


def test_the_streamer_receives_the_prompt_then_exactly_the_emitted_tokens(models):
    target, drafters = models

    class Collect(transformers.generation.BaseStreamer):
        def __init__(self):
            self.puts, self.ended = [], False

        def put(self, value):
            self.puts.append(value.tolist())

        def end(self):
            self.ended = True

    streamer = Collect()
    out = disd_generate(target, drafters[0], torch.tensor([PROMPTS[1]]), seed=9, gamma=3,
                        max_new_tokens=NEW, eos_token_id=[], streamer=streamer)  # fmt: skip
    assert streamer.puts[0] == [PROMPTS[1]] and streamer.ended
    assert [t for (t,) in streamer.puts[1:]] == out.sequences[0, len(PROMPTS[1]) :].tolist()


def test_sd_and_multidraft_share_the_entry_and_match_the_single_runs(models):
    target, drafters = models
    seeds = [0, 1, 2, 3]
    ids, mask = _padded(PROMPTS)
    width = ids.shape[1]
    sd = disd_generate(target, drafters[0], ids, attention_mask=mask, seed=seeds, gamma=3,
                       max_new_tokens=NEW, method="sd", eos_token_id=[])  # fmt: skip
    for r, (prompt, seed) in enumerate(zip(PROMPTS, seeds)):
        loop = run_method("sd", CachedLM(target), ModelDrafter(drafters[0], "d"), prompt,
                          seed=seed, gamma=3, max_new_tokens=NEW, sampling=SamplingConfig())
        assert _new_tokens(sd, width)[r] == loop.tokens
        for name in ("target_calls", "drafter_calls", "drafted", "accepted"):
            assert int(getattr(sd, name)[r]) == getattr(loop.stats, name), name
    for variant in ("strong", "conditional"):
        outs = [disd_generate(target, d, ids, attention_mask=mask, seed=seeds, gamma=3,
                              max_new_tokens=NEW, method=f"mdisd-{variant}", drafts=3,
                              eos_token_id=[]) for d in drafters]  # fmt: skip
        for r, (prompt, seed) in enumerate(zip(PROMPTS, seeds)):
            loop = decode_multidraft(CachedLM(target), ModelDrafter(drafters[0], "d"),
                                     MultiDraftRule(seed, 3, variant), prompt, gamma=3,
                                     max_new_tokens=NEW, sampling=SamplingConfig())  # fmt: skip
            assert _new_tokens(outs[0], width)[r] == loop.tokens
            for name in ("target_calls", "drafter_calls", "drafted", "accepted"):
                assert int(getattr(outs[0], name)[r]) == getattr(loop.stats, name), name
            if variant == "strong":  # the same tokens whatever the drafter: the K-slot race
                want = _reference(target, prompt, seed, coupling="gls", drafts=3)
                assert all(_new_tokens(o, width)[r] == want for o in outs)


# --- what crosses to the host, and low precision --------------------------------------------

@pytest.fixture
def float_reads():
    """Every floating-point tensor the engine or the samplers read to the host inside the test
    (``host_float_reads`` of benchmarks/gpu_check.py, the accelerator check's own audit). On a
    CPU nothing is copied, but the same call on a GPU would copy: an empty list is the
    architecture's rule, checked without a GPU (only integers cross per round)."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with module.host_float_reads() as reads:
        yield reads


@pytest.mark.parametrize("coupling", ["gumbel", "wmh"])
def test_only_integers_cross_to_the_host_with_the_torch_backend(models, coupling, float_reads):
    target, drafters = models
    ids, mask = _padded(PROMPTS)
    sampling = {"temperature": 0.8, "top_k": 20, "top_p": 0.9}
    runs = [("disd", {"coupling": coupling}), ("sd", {}),
            ("mdisd-strong", {"drafts": 2}), ("mdisd-conditional", {"drafts": 2})]  # fmt: skip
    for method, extra in runs:
        if method != "disd" and coupling != "gumbel":
            continue
        out = disd_generate(target, drafters[0], ids, attention_mask=mask, seed=[0, 1, 2, 3],
                            max_new_tokens=8, method=method, backend="torch", **sampling,
                            **extra)  # fmt: skip
        assert int(out.new_tokens.sum()) > 0
    race = KeyedRace(seed=[0, 1, 2, 3], attention_mask=mask, backend="torch",
                     coupling=coupling, **sampling)  # fmt: skip
    target.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=6,
                    logits_processor=[race], pad_token_id=0)  # fmt: skip
    assert float_reads == []


def test_the_audit_sees_a_float_read(float_reads):
    """The audit's own check: the numba backend reads the distributions to the host."""
    target = tiny_llama(0, layers=1)
    disd_generate(target, tiny_llama(1, layers=1), torch.tensor([PROMPTS[0]]), seed=0,
                  max_new_tokens=2, backend="numba")  # fmt: skip
    assert any(method in ("cpu", "numpy") for method, _, _ in float_reads)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_models_decode_as_the_project_loop(dtype):
    """Any dtype: bfloat16 and float16 models through ``disd_generate`` (a batch of one, whose
    passes are the loop's own) give the project's loop's tokens and counters for two drafters
    and both couplings, on both backends; the sequences are int64 on the input's device."""
    cast = getattr(torch, dtype)
    for make in (tiny_llama, tiny_gemma2):
        target = make(0, scale=3.0).to(cast)
        for drafter in (make(1, scale=3.0).to(cast), make(2).to(cast)):
            for coupling, backend in (("gumbel", "numba"), ("wmh", "torch")):
                out = disd_generate(target, drafter, torch.tensor([PROMPTS[0]]), seed=3,
                                    max_new_tokens=NEW, coupling=coupling, backend=backend,
                                    eos_token_id=[])  # fmt: skip
                loop = run_method(f"disd-{coupling}", CachedLM(target),
                                  ModelDrafter(drafter, "d"), PROMPTS[0], seed=3, gamma=4,
                                  max_new_tokens=NEW, sampling=SamplingConfig(),
                                  backend=backend)  # fmt: skip
                assert out.sequences.dtype == torch.int64
                assert _new_tokens(out, len(PROMPTS[0]))[0] == loop.tokens
                assert int(out.target_calls[0]) == loop.stats.target_calls


def test_custom_generate_hook_equals_the_direct_call(models):
    target, drafters = models
    ids = torch.tensor([PROMPTS[0]])
    direct = disd_generate(target, drafters[0], ids, seed=3, max_new_tokens=NEW, gamma=4)
    hooked = target.generate(ids, custom_generate=disd_custom_generate, drafter=drafters[0],
                             seed=3, max_new_tokens=NEW, return_dict_in_generate=True)
    assert hooked.sequences.tolist() == direct.sequences.tolist()
    assert hooked.target_calls.tolist() == direct.target_calls.tolist()
    plain = target.generate(ids, custom_generate=disd_custom_generate, drafter=drafters[0],
                            seed=3, max_new_tokens=NEW, temperature=0.5, top_k=4)
    want = disd_generate(target, drafters[0], ids, seed=3, max_new_tokens=NEW,
                         temperature=0.5, top_k=4)  # fmt: skip
    assert plain.tolist() == want.sequences.tolist()
    # do_sample=True: transformers builds temperature and top-k warpers; DISD applies them
    sampled = target.generate(ids, custom_generate=disd_custom_generate, drafter=drafters[0],
                              seed=3, max_new_tokens=NEW, temperature=0.5, top_k=4,
                              do_sample=True)  # fmt: skip
    assert sampled.tolist() == want.sequences.tolist()


# --- refusals, before any model work ---------------------------------------------------------


def _mamba():
    cfg = transformers.MambaConfig(vocab_size=24, hidden_size=16, state_size=4,
                                   num_hidden_layers=1)  # fmt: skip
    return transformers.MambaForCausalLM(cfg).eval()


REFUSALS = [
    ({"gamma": 0}, ValueError, "gamma must be >= 1"),
    ({"gamma": 2.5}, TypeError, "gamma must be an int"),
    ({"max_new_tokens": 0}, ValueError, "max_new_tokens must be >= 1"),
    ({"seed": [1, 2]}, ValueError, "seed lists 2 seeds for a batch of 4 rows"),
    ({"seed": -1}, ValueError, "seed"),
    ({"temperature": 0}, ValueError, "do_sample=False"),
    ({"temperature": -1.0}, ValueError, "greedy"),
    ({"top_p": 0}, ValueError, "top_p"),
    ({"method": "medusa"}, ValueError, "method must be one of"),
    ({"coupling": "optimal"}, ValueError, "coupling must be one of"),
    ({"method": "sd", "coupling": "wmh"}, ValueError, "applies to method='disd' only"),
    ({"method": "mdisd-strong"}, ValueError, "needs drafts"),
    ({"drafts": 2}, ValueError, "drafts applies to the mdisd methods"),
    ({"attention_mask": None}, ValueError, "looks left-padded"),
    ({"stop_strings": ["x"]}, ValueError, "needs the tokenizer"),
    ({"streamer": object()}, ValueError, "a streamer takes one sequence"),
    ({"max_new_tokens": 10_000}, ValueError, "target: a prompt of 6 tokens and 10,000 new"),
    ({"backend": "cuda"}, ValueError, "backend must be one of"),
    ({"eos_token_id": 3.0}, TypeError, "eos_token_id must be a token id \\(int\\) or a list"),
    ({"eos_token_id": "<eos>"}, TypeError, "eos_token_id must be a token id"),
    ({"eos_token_id": [2, 10**6]}, ValueError, "eos_token_id 1000000 lies outside the vocab"),
    ({"pad_token_id": -5}, ValueError, "pad_token_id -5 lies outside the vocabulary \\[0, 24\\)"),
    ({"pad_token_id": "x"}, TypeError, "pad_token_id must be one token id"),
    ({"stopping_criteria": [3]}, TypeError, "stopping_criteria must be a StoppingCriteria"),
    ({"max_new_tokens": np.int64(0)}, ValueError, "max_new_tokens must be >= 1"),
]


@pytest.mark.parametrize(("change", "kind", "message"), REFUSALS)
def test_bad_arguments_are_refused_before_model_work(models, change, kind, message):
    target, drafters = models
    ids, mask = _padded(PROMPTS)
    args = {"seed": [0, 1, 2, 3], "attention_mask": mask, "max_new_tokens": NEW} | change
    args = {"pad_token_id": 0} | args
    with _counting(target, drafters[0]) as sizes, pytest.raises(kind, match=message):
        disd_generate(target, drafters[0], ids, **args)
    assert sizes == []  # neither model was called


@pytest.mark.parametrize("which", ["target", "drafter"])
def test_a_model_in_training_mode_is_refused(models, which):
    """Dropout would make the tokens depend on more than the seed."""
    target, drafters = models
    model = target if which == "target" else drafters[0]
    model.train()
    try:
        with _counting(target, drafters[0]) as sizes, pytest.raises(
            ValueError, match=f"{which} is in training mode .* call {which}.eval\\(\\)"
        ):
            disd_generate(target, drafters[0], torch.tensor([PROMPTS[0]]), seed=0,
                          max_new_tokens=4)  # fmt: skip
    finally:
        model.eval()
    assert sizes == []


def test_numpy_and_tensor_integers_are_ints(models):
    """A numpy or 0-d tensor seed (and numpy counts) mean what the int means; one criterion
    may be passed without a list; an EOS id may be a 0-d tensor."""
    target, drafters = models
    ids = torch.tensor([PROMPTS[0]])
    want = disd_generate(target, drafters[0], ids, seed=3, max_new_tokens=6).sequences.tolist()
    for seed in (np.int64(3), np.uint64(3), torch.tensor(3)):
        got = disd_generate(target, drafters[0], ids, seed=seed, max_new_tokens=np.int32(6),
                            gamma=np.int64(4), eos_token_id=torch.tensor(_eos(target)),
                            stopping_criteria=transformers.MaxLengthCriteria(100))  # fmt: skip
        assert got.sequences.tolist() == want
    ids, mask = _padded(PROMPTS[:2])
    out = target.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=NEW,
                          logits_processor=[KeyedRace(seed=torch.tensor(5), attention_mask=mask)],
                          pad_token_id=0)  # fmt: skip
    for r, prompt in enumerate(PROMPTS[:2]):  # one seed for every row
        want = _reference(target, prompt, 5, eos=_eos(target))
        assert out[r, ids.shape[1] : ids.shape[1] + len(want)].tolist() == want


def test_mismatched_models_and_inputs_are_refused():
    target = tiny_llama(0, layers=1)
    ids = torch.tensor([PROMPTS[0]])
    with pytest.raises(ValueError, match="vocabularies differ \\(24 vs 30"):
        disd_generate(target, tiny_llama(1, layers=1, vocab=30), ids, seed=0, max_new_tokens=4)
    with pytest.raises(ValueError, match="tokenizers differ"):
        disd_generate(target, tiny_llama(1, layers=1), ids, seed=0, max_new_tokens=4,
                      tokenizer=word_tokenizer(), drafter_tokenizer=word_tokenizer(23) )
    elsewhere = tiny_llama(1, layers=1).to("meta")
    with pytest.raises(ValueError, match="drafter's logits land on meta"):
        disd_generate(target, elsewhere, ids, seed=0, max_new_tokens=4)
    with pytest.raises(ValueError, match="no KV cache whose rows can be masked"):
        disd_generate(target, _mamba(), ids, seed=0, max_new_tokens=4)
    with pytest.raises(ValueError, match="left padding"):
        disd_generate(target, target, ids, attention_mask=torch.tensor([[1, 1, 1, 0]]), seed=0,
                      max_new_tokens=4)  # fmt: skip
    with pytest.raises(ValueError, match="outside \\[0, 24\\)"):
        disd_generate(target, target, torch.tensor([[1, 99]]), seed=0, max_new_tokens=4)
    with pytest.raises(TypeError, match="token ids"):
        disd_generate(target, target, torch.tensor([[1.0, 2.0]]), seed=0, max_new_tokens=4)
    for flag in ("num_beams", "num_return_sequences"):
        with pytest.raises(ValueError, match=f"one sequence per prompt, so {flag} must be 1"):
            target.generate(ids, custom_generate=disd_custom_generate, drafter=target, seed=0,
                            max_new_tokens=4, do_sample=True, **{flag: 2})  # fmt: skip
    with pytest.raises(ValueError, match="remove the other logits processors \\(KeyedRace\\)"):
        target.generate(ids, custom_generate=disd_custom_generate, drafter=target, seed=0,
                        max_new_tokens=4, logits_processor=[KeyedRace(seed=0)])  # fmt: skip


def test_keyed_race_refusals():
    with pytest.raises(ValueError, match="coupling must be one of"):
        KeyedRace(seed=0, coupling="gls")
    with pytest.raises(ValueError, match="generate\\(do_sample=False\\) without KeyedRace"):
        KeyedRace(seed=0, temperature=0)
    mask = torch.tensor([[0, 1, 1], [1, 1, 1]])
    for bad, message in ((mask * 0.5, "only 0 and 1"), (torch.tensor([[1, 1, 0]]), "left padding"),
                         (torch.tensor([1, 1, 0]), "must be \\(batch, length\\)"),
                         (torch.tensor([[0, 0, 0]]), "all 0")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            KeyedRace(seed=0, attention_mask=bad)
    race = KeyedRace(seed=[0, 1])
    with pytest.raises(ValueError, match="2 seeds, one per row, but the batch has 3"):
        race(torch.zeros((3, 2), dtype=torch.int64), torch.zeros((3, 5)))


# --- the transformers shim -------------------------------------------------------------------


def test_the_shim_speaks_the_installed_transformers_without_warnings():
    model = tiny_gemma2(0, layers=1)
    params = __import__("inspect").signature(type(model).forward).parameters
    assert cache_argument(model) == ("cache" if "cache" in params else "past_key_values")
    cache = new_cache(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = forward(model, torch.tensor([[1, 2, 3]]), cache)
        second = forward(model, torch.tensor([[4]]), cache)
    fresh = forward(model, torch.tensor([[1, 2, 3, 4]]), new_cache(model))
    assert cache.get_seq_length() == 4
    assert torch.allclose(second[0, -1], fresh[0, -1], atol=1e-5)
    assert first.shape == (1, 1, 24)


def test_kv_memory_beyond_the_machine_is_refused(models, monkeypatch):
    from coupling.simulate import validation

    target, drafters = models
    monkeypatch.setattr(validation, "available_memory", lambda: 1000)
    with pytest.raises(ValueError, match="the two models' KV caches needs about"):
        disd_generate(target, drafters[0], torch.tensor([PROMPTS[0]]), seed=0, max_new_tokens=4)


def test_rejected_columns_are_cropped_when_every_row_drops_them(models):
    """A batch of one keeps no masked holes; in a batch, only the columns some rows keep are
    masked, and each row's logits stay those of its real tokens."""
    from coupling.decoding.streams import BatchStream

    target, _ = models
    one = BatchStream(target, 1)
    one.feed([[1, 5, 6, 7, 8, 9]], 1)
    one.drop_last([2])
    assert one.mask.shape[1] == 4 and bool(one.mask.all()) and one.pos.tolist() == [4]
    assert one.cache.get_seq_length() == 4
    two = BatchStream(target, 2)
    two.feed([[1, 5, 6, 7, 8, 9], [1, 3, 4, 8, 9]], 1)
    two.drop_last([2, 1])  # one column in common is cropped, the other masked in row 0
    assert two.mask.shape[1] == 5 and two.pos.tolist() == [4, 4]
    assert two.mask[0].tolist() == [True, True, True, True, False]
    got = two.feed([[10], [10]], 1)[:, -1]
    for row, prompt in enumerate(([1, 5, 6, 7, 10], [1, 3, 4, 8, 10])):
        want = CachedLM(target).logits(prompt, 1)[0]
        assert torch.allclose(got[row].to(torch.float64), want, atol=1e-5)


def test_a_sliding_window_model_decodes_past_its_window():
    """transformers' own cache for a sliding-window layer refuses to roll back once its
    window is full; the engine's cache keeps every column (the mask applies the window), so
    a tiny Gemma-2 with a window of 8 decodes 30 tokens exactly as a full recompute without
    any cache does, in the engine, the project's loop and the reference."""
    from coupling.decoding import DisdRule

    def gemma(seed):
        cfg = transformers.Gemma2Config(vocab_size=24, hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=2, num_attention_heads=4,
                                        num_key_value_heads=2, head_dim=8, sliding_window=8,
                                        query_pre_attn_scalar=8, max_position_embeddings=256,
                                        pad_token_id=0, bos_token_id=1, eos_token_id=2)  # fmt: skip
        torch.manual_seed(seed)
        model = transformers.Gemma2ForCausalLM(cfg).eval().requires_grad_(False)
        with torch.no_grad():
            model.lm_head.weight.mul_(3.0)
        return model

    target, drafter = gemma(0), gemma(1)
    prompt, rule, sampling = [1, 5, 6, 7], DisdRule(3), SamplingConfig()
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(30):
            z = target(torch.tensor([seq])).logits[0, -1].to(torch.float64)
            seq.append(rule.sample(sampling.probs(z), len(seq)))
    out = disd_generate(target, drafter, torch.tensor([prompt]), seed=3, max_new_tokens=30,
                        eos_token_id=[])  # fmt: skip
    loop = run_method("disd-gumbel", CachedLM(target), ModelDrafter(drafter, "d"), prompt,
                      seed=3, gamma=4, max_new_tokens=30, sampling=sampling)  # fmt: skip
    assert out.sequences[0, 4:].tolist() == loop.tokens == seq[4:]


def test_holes_are_repacked_so_the_cache_stays_bounded(monkeypatch):
    """A poor drafter in a batch leaves rejected columns in some rows only; the cache is
    re-packed beyond one round of holes, so it never outgrows the padded prompt, the new
    tokens and a few rounds of drafts, and every row's tokens stay the reference's."""
    from coupling.decoding import streams

    target, poor = tiny_llama(0, scale=3.0), tiny_llama(5, scale=0.3)
    widest = [0]
    feed = streams.BatchStream.feed

    def recording(self, tokens, keep):
        out = feed(self, tokens, keep)
        widest[0] = max(widest[0], self.mask.shape[1])
        return out

    monkeypatch.setattr(streams.BatchStream, "feed", recording)
    ids, mask = _padded(PROMPTS)
    new, gamma = 60, 6
    out = disd_generate(target, poor, ids, attention_mask=mask, seed=[0, 1, 2, 3], gamma=gamma,
                        max_new_tokens=new, eos_token_id=[])  # fmt: skip
    assert widest[0] <= ids.shape[1] + new + gamma + 2 * (gamma + 1)
    for r, (prompt, seed) in enumerate(zip(PROMPTS, [0, 1, 2, 3])):
        want = autoregressive(CachedLM(target), prompt, seed=seed, max_new_tokens=new,
                              sampling=SamplingConfig()).tokens  # fmt: skip
        assert _new_tokens(out, ids.shape[1])[r] == want
