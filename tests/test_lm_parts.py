"""Sampling transforms, early exits and adapters, model loading errors, tokenizer checks."""

import numpy as np
import pytest
from coupling.decoding.sampling import SamplingConfig
from coupling.paper_repro.distill import _student_logits
from coupling.paper_repro.exits import build_early_exit, load_adapter, new_adapter, save_adapter
from coupling.paper_repro.model import check_same_tokenizer, load_model
from lm_fixtures import tiny_llama, torch


def test_temperature_topk_topp_match_hand_computation():
    z = np.array([2.0, 1.0, 1.0, 0.0, -np.inf])
    p = SamplingConfig(temperature=0.5).probs(z)
    w = np.exp(z / 0.5)
    np.testing.assert_allclose(p, w / w.sum())
    p = SamplingConfig(top_k=2).probs(z)  # tie at the boundary: lowest index kept
    np.testing.assert_allclose(p, np.array([np.e, 1, 0, 0, 0]) / (np.e + 1))
    e = np.exp(z)
    mass = e / e.sum()  # 0.576, 0.212, 0.212, 0.078
    p = SamplingConfig(top_p=0.7).probs(z)
    keep = np.array([1, 1, 0, 0, 0])
    np.testing.assert_allclose(p, mass * keep / (mass * keep).sum())
    assert SamplingConfig(greedy=True).probs(z).tolist() == [1, 0, 0, 0, 0]


@pytest.mark.parametrize("kwargs,match", [
    ({"temperature": 0}, "temperature must be > 0"),
    ({"temperature": -1.0}, "greedy"),
    ({"temperature": float("nan")}, "temperature"),
    ({"top_k": -1}, "top_k must be >= 0"),
    ({"top_p": 0.0}, "top_p must be > 0"),
])  # fmt: skip
def test_bad_sampling_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SamplingConfig(**kwargs)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_logits_are_refused(bad):
    with pytest.raises(ValueError, match="non-finite logit"):
        SamplingConfig().probs(np.array([0.0, bad, 1.0]))
    with pytest.raises(ValueError, match="every logit is -inf"):
        SamplingConfig().probs(np.full(3, -np.inf))


def test_early_exit_is_the_truncated_forward_and_adapter_roundtrips(tmp_path):
    model = tiny_llama(1)
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        hidden = model(ids, output_hidden_states=True).hidden_states
        raw = build_early_exit(model, 2)(ids).logits
        np.testing.assert_allclose(raw, model.lm_head(model.model.norm(hidden[2])), atol=1e-12)
        adapter = new_adapter(model, 2)
        deployed = build_early_exit(model, 2, adapter)(ids).logits
        trained_path = _student_logits(model, adapter, hidden[2], torch.arange(6)[None])
    np.testing.assert_allclose(deployed, trained_path, atol=1e-10)
    save_adapter(adapter, tmp_path / "exit2.safetensors", {"depth": 2})
    depth, loaded = load_adapter(model, tmp_path / "exit2.safetensors")
    assert depth == 2
    with torch.no_grad():
        again = build_early_exit(model, 2, loaded)(ids).logits
    np.testing.assert_allclose(again, deployed, atol=5e-2)  # stored as float16
    with pytest.raises(ValueError, match="depth must"):
        build_early_exit(model, 4)


def test_unknown_model_path_and_tokenizer_mismatch(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_model(str(tmp_path / "no-such-model"))
    with pytest.raises(ValueError, match="non-empty"):
        load_model("  ")

    class Tok:
        def __init__(self, vocab):
            self.vocab = vocab

        def get_vocab(self):
            return self.vocab

    check_same_tokenizer(Tok({"a": 0, "b": 1}), Tok({"b": 1, "a": 0}))
    with pytest.raises(ValueError, match="tokenizers differ"):
        check_same_tokenizer(Tok({"a": 0, "b": 1}), Tok({"a": 1, "b": 0}))


def test_flip_count_compares_the_same_positions():
    """A verify pass and one-token steps score the same positions: in float64 the logits agree
    to rounding and no sampled token flips (an off-by-one would differ by whole logits)."""
    from types import SimpleNamespace

    from coupling.paper_repro.experiments import flip_count

    loaded = SimpleNamespace(model=tiny_llama(3, scale=3.0))
    prompt = [1, 4, 9]
    tokens = [int(t) for t in np.random.default_rng(0).integers(0, 24, size=11)]
    for block in (1, 3, 4):
        flips, max_diff = flip_count(loaded, prompt, tokens, seed=0, block=block)
        assert flips == 0
        assert max_diff < 1e-9


def test_stratified_interval_against_the_t_formula():
    from coupling.paper_repro.summary import stratified_interval
    from scipy import stats

    a, b = [1.0, 2.0, 3.0], [5.0, 7.0]
    m, lo, hi = stratified_interval([a, b])
    assert m == pytest.approx((2.0 + 6.0) / 2)
    se = np.sqrt((np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 2) / 4)
    assert hi - m == pytest.approx(stats.t.ppf(0.975, 3) * se)
    assert m - lo == pytest.approx(hi - m)


def test_units_refuse_other_settings_and_name_them(tmp_path):
    from coupling.paper_repro.units import UnitStore

    store = UnitStore(tmp_path, {"tokens": 4, "seed": 0, "drafters": ("a", "b")})
    assert store.get("u", lambda: {"x": 1}) == {"x": 1}
    assert store.get("u", lambda: {"x": 2}) == {"x": 1}  # stored: not recomputed
    UnitStore(tmp_path, {"tokens": 4, "seed": 0, "drafters": ["a", "b"]})  # tuples as lists
    with pytest.raises(ValueError, match=r"seed: stored 0, now 3; tokens: stored 4, now 8"):
        UnitStore(tmp_path, {"tokens": 8, "seed": 3, "drafters": ("a", "b")})
    (tmp_path / "settings.json").unlink()
    with pytest.raises(ValueError, match="without recorded settings"):
        UnitStore(tmp_path, {"tokens": 4})


def test_monte_carlo_z_uses_the_exact_standard_error():
    """No collision in 20,000 trials at p = 4e-5 is 0.9 standard errors off, not infinity."""
    from coupling.paper_repro.summary import max_z

    row = {"gumbel_exact": 4e-5, "gumbel_mc": 0.0, "gumbel_se": 0.0,
           "wmh_exact": 0.5, "wmh_mc": 0.5, "wmh_se": 0.0035}  # fmt: skip
    assert max_z([row], 20_000) == pytest.approx(4e-5 / np.sqrt(4e-5 * (1 - 4e-5) / 20_000))


@pytest.mark.parametrize(
    "cfg",
    [
        SamplingConfig(),
        SamplingConfig(temperature=0.6),
        SamplingConfig(top_k=1),
        SamplingConfig(top_k=3),
        SamplingConfig(top_k=4, top_p=0.8),
        SamplingConfig(top_p=0.5),
        SamplingConfig(top_p=0.999),
        SamplingConfig(greedy=True),
    ],
    ids=repr,
)
def test_sampling_on_tensors_matches_numpy(cfg):
    """Same kept set and, to rounding, the same probabilities, on rows with ties at the top-k
    boundary, ties at the top-p cut and -inf logits; rows of a block as rows alone."""
    rng = np.random.default_rng(0)
    rows = [np.array([2.0, 1.0, 1.0, 1.0, 0.0, -np.inf]),  # ties across the top-k boundary
            np.log(np.array([0.4, 0.1, 0.2, 0.2, 0.1])),  # the top-p cut falls inside a tie
            np.array([0.0, 0.0, 0.0, 0.0])]  # fmt: skip
    rows += [np.round(rng.standard_normal(50) * 2) for _ in range(20)]
    rows += [rng.standard_normal(300) * 4 for _ in range(20)]
    for z in rows:
        want = cfg.probs(z)
        got = cfg.probs(torch.from_numpy(z))
        assert got.dtype == torch.float64
        assert np.array_equal(got.numpy() > 0, want > 0), z
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=0)
        block = cfg.probs(torch.from_numpy(np.stack([z, z[::-1]])))
        np.testing.assert_allclose(block.numpy()[1], cfg.probs(z[::-1]), rtol=1e-12, atol=0)
    assert cfg.probs(torch.tensor([0.0, 1.0, 1.0], dtype=torch.float32)).dtype == torch.float64


def test_bad_logit_tensors_are_refused():
    with pytest.raises(ValueError, match="non-finite logit nan at token 1 of row 1"):
        SamplingConfig().probs(torch.tensor([[0.0, 1.0], [0.0, float("nan")]]))
    with pytest.raises(ValueError, match="every logit is -inf"):
        SamplingConfig().probs(torch.full((2, 3), -float("inf")))


def test_adapter_follows_the_target_and_leaves_the_global_generator_alone():
    model = tiny_llama(2).to(torch.bfloat16)
    state = torch.random.get_rng_state()
    layer, norm = new_adapter(model, 2)
    assert torch.equal(torch.random.get_rng_state(), state)
    for module in (layer, norm):
        weights = list(module.parameters())
        assert {(w.dtype, w.device) for w in weights} == {(torch.bfloat16, torch.device("cpu"))}
        assert not module.training
    source = model.model.layers[2]
    assert torch.equal(layer.self_attn.q_proj.weight, source.self_attn.q_proj.weight)
    assert torch.equal(layer.mlp.down_proj.weight, source.mlp.down_proj.weight[:, :32])


def test_device_check_is_one_line_and_early():
    from coupling.paper_repro.model import check_device

    assert str(check_device("cpu")) == "cpu"
    assert check_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown torch device 'gpu0'"):
        check_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' is not available here") as info:
            load_model("/no/such/model", device="cuda")  # refused before the path is read
        assert "\n" not in str(info.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine has CUDA")
def test_cli_refuses_cuda_without_cuda(capsys):
    from coupling.cli import main

    assert main(["decode", "--prompt", "hi", "--method", "autoregressive",
                 "--device", "cuda"]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert err.startswith("coupling decode: error: device 'cuda' is not available here")
    assert "\n" not in err


def test_transformers_logging_is_restored(tmp_path):
    from coupling.paper_repro.model import quiet_transformers
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_info()
    try:
        with quiet_transformers():
            assert hf_logging.get_verbosity() == hf_logging.ERROR
            assert not hf_logging.is_progress_bar_enabled()
        assert hf_logging.get_verbosity() == hf_logging.INFO
        assert hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.set_verbosity_warning()


def test_hf_drafter_follows_the_target_and_refuses_another_tokenizer(tmp_path):
    from coupling.paper_repro.drafters import make_drafter
    from lm_fixtures import saved_tiny_model

    target = load_model(saved_tiny_model(tmp_path / "t", seed=0), dtype="bfloat16")
    drafter = make_drafter(f"hf:{saved_tiny_model(tmp_path / 'd', seed=1)}", target)
    weight = drafter.lm.model.get_output_embeddings().weight
    assert (weight.dtype, weight.device) == (torch.bfloat16, torch.device("cpu"))
    logits = drafter.next_token_logits([1, 2, 3])
    assert logits.dtype == torch.float64 and logits.shape == (24,)
    wide = make_drafter(f"hf:{tmp_path / 'd'}", target, dtype="float32")
    assert wide.lm.model.get_output_embeddings().weight.dtype == torch.float32
    with pytest.raises(ValueError, match="tokenizers differ"):
        make_drafter(f"hf:{saved_tiny_model(tmp_path / 'o', seed=2, vocab=23)}", target)
    with pytest.raises(ValueError, match="hf: drafters only"):
        make_drafter("exit8-raw", target, dtype="float32")


def test_distill_defaults_are_one_value():
    from coupling.paper_repro.distill import DistillConfig

    from coupling.cli import build_parser

    args = build_parser().parse_args(["distill"])
    assert args.steps is None  # the command falls back to DistillConfig
    assert DistillConfig().steps == 200  # what the committed adapters were trained with
