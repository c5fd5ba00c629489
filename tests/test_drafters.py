"""Drafter kinds built from the target: group quantization against a numpy twin, int8, the
target at another dtype or temperature; name checks; the per-item gap split against the
direct formula; the list coupling's row against J_P and the lemma."""

import numpy as np
import pytest
from coupling.paper_repro.coupling_stats import TOP_ITEMS, list_row, position_row
from coupling.paper_repro.drafters import (
    DEFAULT_DRAFTERS,
    DRAFTERS,
    check_drafter_name,
    make_drafter,
)
from coupling.paper_repro.model import LoadedModel
from coupling.paper_repro.quantize import int8_dynamic, quantize_dequantize, quantize_weights
from coupling.simulate import exact
from hypothesis import given
from hypothesis import strategies as st
from lm_fixtures import one_torch_thread, tiny_llama, torch

pytestmark = pytest.mark.usefixtures(one_torch_thread.__name__)


def _twin(w, bits, group):
    """Quantize-dequantize, group by group, in plain numpy."""
    out = np.array(w, dtype=float)
    for r in range(out.shape[0]):
        for s in range(0, out.shape[1], group):
            g = out[r, s : s + group]
            lo, hi = g.min(), g.max()
            if hi > lo:
                step = (hi - lo) / (2**bits - 1)
                out[r, s : s + group] = lo + step * np.clip(np.round((g - lo) / step), 0,
                                                            2**bits - 1)  # fmt: skip
    return out


@pytest.mark.parametrize("bits,group", [(1, 4), (2, 8), (3, 32), (8, 16)])
def test_quantize_dequantize_matches_the_numpy_twin(bits, group):
    w = torch.tensor(np.random.default_rng(bits).normal(size=(6, 64)), dtype=torch.float64)
    w[0, :group] = 0.25  # a constant group stays as is
    got = quantize_dequantize(w, bits, group).numpy()
    np.testing.assert_allclose(got, _twin(w.numpy(), bits, group), atol=1e-12)
    for s in range(0, 64, group):  # at most 2^bits levels per group, within half a step
        g = w.numpy()[1, s : s + group]
        assert len(np.unique(got[1, s : s + group])) <= 2**bits
        assert np.max(np.abs(got[1, s : s + group] - g)) <= (g.max() - g.min()) / (
            2 * (2**bits - 1)) + 1e-12  # fmt: skip


def test_quantize_errors():
    with pytest.raises(ValueError, match="multiple of the group"):
        quantize_dequantize(torch.zeros(2, 10), 3, 4)
    with pytest.raises(ValueError, match="bits must be"):
        quantize_dequantize(torch.zeros(2, 8), 0, 4)


def _loaded(model):
    return LoadedModel(model, None, "tiny", 0.0, False)


def test_quantized_copy_rounds_only_the_decoder_linears():
    model = tiny_llama(5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = quantize_weights(model, 2, 32)
    for k, v in model.state_dict().items():  # the target is untouched
        assert torch.equal(v, before[k])
    for k, v in q.state_dict().items():
        changed = not torch.equal(v, before[k])
        assert changed == (k.startswith("model.layers.") and k.endswith("proj.weight")), k


def test_int8_and_temperature_and_dtype_drafters():
    model = tiny_llama(6).to(torch.float32)
    ctx = [1, 2, 3, 4]
    with torch.no_grad():
        ref = model(torch.tensor([ctx])).logits[0, -1].double().numpy()
    t = make_drafter("temp1.25", _loaded(model))
    assert t.lm.model is model
    np.testing.assert_allclose(t.next_token_logits(ctx), ref / 1.25, atol=1e-6)
    np.testing.assert_allclose(t.path_logits(ctx, 2)[-1], ref / 1.25, atol=1e-6)
    bf = make_drafter("bf16", _loaded(model))
    assert bf.lm.model.dtype == torch.bfloat16 and model.dtype == torch.float32
    np.testing.assert_allclose(bf.next_token_logits(ctx), ref, atol=0.1)
    i8 = int8_dynamic(model)
    with torch.no_grad():
        got = i8(torch.tensor([ctx])).logits[0, -1].double().numpy()
    assert 0 < np.max(np.abs(got - ref)) < 0.5
    with pytest.raises(ValueError, match="float32 model"):
        int8_dynamic(tiny_llama(6))


def test_drafter_names_are_checked_before_any_model_work():
    assert set(DEFAULT_DRAFTERS) <= set(DRAFTERS)
    assert check_drafter_name("hf:org/model") == "hf:org/model"  # a hub id: the loader's
    with pytest.raises(ValueError, match="model path '/no/such/path' does not exist"):
        check_drafter_name("hf:/no/such/path")
    with pytest.raises(ValueError, match="unknown drafter 'nope'"):
        check_drafter_name("nope")
    with pytest.raises(ValueError, match="names no model"):
        check_drafter_name("hf:")
    with pytest.raises(TypeError):
        check_drafter_name(3)


def _direct_gaps(p, q):
    D = 0.5 * np.abs(p - q).sum()
    m = np.minimum(p, q)
    g = np.array([p[i] * q[i] / np.maximum(p[i] * q, p * q[i]).sum() if m[i] > 0 else 0.0
                  for i in range(p.size)])  # fmt: skip
    w = (m + (p - m) * q + (q - m) * p) / (1 + D)
    return g - w


@given(st.integers(2, 40), st.integers(0, 2**32 - 1), st.sampled_from([0.05, 0.5, 2.0]))
def test_position_row_splits_the_gap_into_the_largest_direct_gaps(n, seed, alpha):
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.full(n, alpha)), rng.dirichlet(np.full(n, alpha))
    full = _direct_gaps(p, q)
    row = position_row(p, q, position=0, mc_trials=10, seed=0)
    assert np.all(full >= -1e-12)  # the Pareto claim, item by item
    assert row["gap"] == pytest.approx(full.sum(), abs=1e-12)
    keep = min(TOP_ITEMS, n)
    np.testing.assert_allclose(row["gap_values"][:keep], np.sort(full)[::-1][:keep], atol=1e-12)
    np.testing.assert_allclose(full[row["gap_items"][:keep]], row["gap_values"][:keep],
                               atol=1e-15)  # fmt: skip


@given(st.integers(2, 30), st.integers(0, 2**32 - 1))
def test_list_row_starts_at_the_gumbel_value_and_grows_with_the_drafts(n, seed):
    """K = 1 is J_P; the exact value lies between the lemma and 1 and grows with K."""
    rng = np.random.default_rng(seed)
    p, q = rng.dirichlet(np.full(n, 0.3)), rng.dirichlet(np.full(n, 0.3))
    row = list_row(p, q, (1, 2, 4, 8))
    exact_k, bound_k = np.array(row["list_exact"]), np.array(row["list_bound"])
    assert row["drafts"] == [1, 2, 4, 8]
    assert exact_k[0] == pytest.approx(exact.collision_probability(p, q, "gumbel"), rel=1e-9)
    assert np.all(bound_k <= exact_k * (1 + 1e-9)) and np.all(exact_k <= 1.0)
    assert np.all(np.diff(exact_k) >= -1e-9 * exact_k[1:])


def test_measured_tv_is_cached_by_target_and_definition(tmp_path, monkeypatch):
    """Measured once (the drafters' D_TV along the target's own samples), read back without
    loading anything, and measured again when a drafter's definition changes."""
    import coupling.paper_repro.drafter_tv as dtv
    from coupling.paper_repro.drafters import DrafterSpec
    from coupling.paper_repro.model import load_model
    from lm_fixtures import save_model, tiny_gemma2

    target = save_model(tiny_gemma2(0, scale=20.0), tmp_path / "t")
    cache = tmp_path / "tv.json"
    names = ["temp1.25", "q3g32"]
    first = dtv.measured_tv(target, "float32", names, lambda: load_model(target), cache=cache)
    assert 0 < first["temp1.25"] < 1 and 0 <= first["q3g32"] < 1

    def refuse():
        raise AssertionError("loaded again")

    assert dtv.measured_tv(target, "float32", names, refuse, cache=cache) == first
    assert dtv.cached_tv(target, "bfloat16", names, cache=cache) == {n: None for n in names}
    changed = dict(DRAFTERS, **{"temp1.25": DrafterSpec("temperature", {"T": 1.5})})
    monkeypatch.setattr(dtv, "DRAFTERS", changed)
    assert dtv.cached_tv(target, "float32", names, cache=cache)["temp1.25"] is None
