"""Issue 22, items 7 to 12: what a new user's probe broke in the samplers' torch inputs, and the
long computations that showed no progress.

* Torch inputs: one sum tolerance for both backends, from the input's dtype (float32, float16,
  bfloat16); non-contiguous tensors; empty and uint64 key tensors. Each torch result is checked
  against the numpy path on the same numbers.
* Long work: the exact list coupling at large n reports progress and stops on Ctrl-C (the
  command line in a subprocess); the relay's expected bits and law at any size, against the
  old formulas where those finish; ``coupling search --region`` bounded, with a progress bar.
"""

import math
import re
import time
from fractions import Fraction

import numba
import numpy as np
import pytest
from coupling.simulate import (
    _pieces,
    gls_columns,
    gls_drafts,
    gls_pick,
    gls_sample,
    gls_target,
    gumbel_sample,
    inverse_cdf_sample,
    list_matching,
    list_matching_probability,
    uniform,
    wmh_sample,
)
from coupling.simulate.communication import MAX_EXTRA, expected_bits, relay_exact, rice_parameter
from coupling.simulate.exact_marginal import interactive_exact, quantized_exact
from coupling.simulate.families import make_pair
from coupling.simulate.search import MAX_REGION_POINTS, achievable_region
from coupling.simulate.validation import sum_tolerance
from test_hardening import _coupling, _interrupt, _read_until

from coupling.cli import main

try:
    import torch
except ImportError:  # the torch items skip; the rest still runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

V = 5000  # items of the softmax rows: their float32 sums are off 1 by far more than 1e-9
KEYS = np.array([3, 17, 2**40])
LOW_PRECISION = {"float32": np.float32, "float16": np.float16, "bfloat16": None}  # numpy twin
SOLO = {"gumbel": gumbel_sample, "wmh": wmh_sample}
CLOCK_RTOL = 1e-13  # two backends' race minima: a few ulps of log and of the rescaling


def _softmax(dtype, rows=3, seed=0):
    """Rows of a softmax computed in ``dtype`` (the way a model hands them over)."""
    logits = torch.randn(rows, V, generator=torch.Generator().manual_seed(seed)) * 3
    return torch.softmax(logits.to(dtype), dim=-1)


def _reference(p):
    """The same numbers as a float64 array, rescaled as the samplers rescale an accepted row."""
    rows = p.double().numpy()
    return rows / rows.sum(axis=-1, keepdims=True)


# --- item 7: one sum tolerance, from the dtype, for every sampler on both backends -----------


@needs_torch
@pytest.mark.parametrize("name", list(LOW_PRECISION))
def test_low_precision_softmax_tensors_are_accepted_by_every_sampler(name):
    dtype = getattr(torch, name)
    p = _softmax(dtype)
    off = (p.double().sum(dim=-1) - 1).abs().max().item()
    assert 1e-9 < off <= sum_tolerance(dtype, V)  # refused before: the float64 floor
    want = _reference(p)
    keys = torch.from_numpy(KEYS)
    for name, sampler in SOLO.items():
        got = sampler(p, seed=5, key=keys)
        assert got.tolist() == sampler(want, seed=5, key=KEYS, normalize=True).tolist(), name
        one = sampler(p[0], seed=5, key=keys)
        assert one.tolist() == sampler(want[0], seed=5, key=KEYS, normalize=True).tolist(), name
    cols = gls_columns(p, 4, seed=5, key=keys)
    host = gls_columns(want, 4, seed=5, key=KEYS, normalize=True)
    assert cols.item.tolist() == host.item.tolist()
    # torch's log is within an ulp of the host's (module notes of simulate._torch)
    np.testing.assert_allclose(cols.clock.numpy(), host.clock, rtol=CLOCK_RTOL)
    active = [True, False, True, True]
    assert gls_pick(cols, active).tolist() == gls_pick(host, active).tolist()
    # the numpy-only samplers take the tensor with the same rule
    assert gls_sample(p[0], p[1], 4, seed=5, key=KEYS).target.tolist() == (
        gls_sample(want[0], want[1], 4, seed=5, key=KEYS, normalize=True).target.tolist()
    )
    assert gls_target(p[0], 4, seed=5, key=7) == gls_target(want[0], 4, seed=5, key=7)
    assert gls_drafts(p[1], 4, seed=5, key=7).tolist() == gls_drafts(want[1], 4, seed=5,
                                                                     key=7).tolist()  # fmt: skip
    u = torch.tensor([0.1, 0.5, 0.999], dtype=torch.float64)
    assert inverse_cdf_sample(p, u).tolist() == [
        inverse_cdf_sample(want[r], float(u[r])) for r in range(3)
    ]


@needs_torch
@pytest.mark.parametrize("name", list(LOW_PRECISION))
def test_both_backends_draw_the_line_at_the_same_sum(name):
    """Off 1 by half the dtype's tolerance: accepted; by twice: refused, on both backends and by
    every sampler, with the same message."""
    dtype = getattr(torch, name)
    tolerance = sum_tolerance(dtype, V)
    p = _softmax(torch.float64, rows=1)[0]
    calls = [
        lambda x: gumbel_sample(x, seed=1, key=0),
        lambda x: wmh_sample(x, seed=1, key=0),
        lambda x: gls_columns(x, 2, seed=1, key=0),
        lambda x: gls_target(x, 2, seed=1, key=0),
        lambda x: gls_drafts(x, 2, seed=1, key=0),
        lambda x: gls_sample(x, x, 2, seed=1, key=0),
    ]
    for factor, accepted in ((0.5, True), (2.0, False)):
        tensor = (p * (1 + factor * tolerance)).to(dtype)
        # judged by the sum of the numbers actually given, after rounding to dtype
        assert (abs(tensor.double().sum().item() - 1) <= tolerance) == accepted
        arrays = [tensor] + ([tensor.numpy()] if LOW_PRECISION[name] else [])
        for x in arrays:
            for call in calls:
                if accepted:
                    call(x)
                else:
                    with pytest.raises(ValueError, match=f"sums to .*tolerance {tolerance:.3g}"):
                        call(x)


@needs_torch
def test_a_float32_tensor_and_a_float32_array_get_the_same_answers():
    p = _softmax(torch.float32)
    for name, sampler in SOLO.items():
        got = sampler(p, seed=9, key=torch.from_numpy(KEYS))
        assert got.tolist() == sampler(p.numpy(), seed=9, key=KEYS).tolist(), name
    cols = gls_columns(p, 3, seed=9, key=torch.from_numpy(KEYS))
    assert cols.item.tolist() == gls_columns(p.numpy(), 3, seed=9, key=KEYS).item.tolist()


# --- item 8: non-contiguous tensors ---------------------------------------------------------


def _strided_view(name):
    """``(view, contiguous copy)``: a transposed matrix, sliced rows or columns."""
    base = _softmax(torch.float64, rows=6)
    logits = torch.randn(40, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    square = torch.softmax(logits, dim=0)  # columns are the distributions
    wide = torch.cat([base, base], dim=1)
    view = {
        "transposed": square.T,
        "every other row": base[::2],
        "column slice": wide[:, :V],
        "one row of a transpose": square.T[1],
    }[name]
    return view, view.contiguous()


@needs_torch
@pytest.mark.parametrize(
    "name", ["transposed", "every other row", "column slice", "one row of a transpose"]
)
def test_strided_tensors_equal_their_contiguous_copy(name):
    view, copy = _strided_view(name)
    keys = torch.arange(view.shape[0]) * 7 if view.ndim == 2 else torch.arange(5)
    strided_keys = torch.arange(2 * keys.numel())[::2] * 7 if view.ndim == 2 else keys
    for sampler in SOLO.values():
        want = sampler(copy, seed=3, key=keys.contiguous() if view.ndim == 1 else strided_keys)
        assert sampler(view, seed=3, key=strided_keys).tolist() == want.tolist(), name
    want = gls_columns(copy, 3, seed=3, key=strided_keys.contiguous())
    got = gls_columns(view, 3, seed=3, key=strided_keys)
    assert got.item.tolist() == want.item.tolist() and torch.equal(got.clock, want.clock)
    u = 0.37
    assert inverse_cdf_sample(view, u).tolist() == inverse_cdf_sample(copy, u).tolist()


# --- item 9: empty and uint64 key tensors ---------------------------------------------------


P2 = [0.25, 0.75]


@needs_torch
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0)])
def test_empty_keys_give_an_empty_answer_on_both_backends(shape):
    keys = np.zeros(shape, dtype=np.int64)
    tensor_p = torch.tensor(P2, dtype=torch.float64)
    for sampler in SOLO.values():
        host = sampler(P2, seed=0, key=keys)
        dev = sampler(tensor_p, seed=0, key=torch.from_numpy(keys))
        assert host.shape == shape and tuple(dev.shape) == shape and dev.dtype == torch.int64
    host = gls_columns(P2, 2, seed=0, key=keys)
    dev = gls_columns(tensor_p, 2, seed=0, key=torch.from_numpy(keys))
    assert host.item.shape == (*shape, 2) and tuple(dev.item.shape) == (*shape, 2)
    assert dev.clock.dtype == torch.float64 and dev.item.dtype == torch.int64
    host = uniform(seed=0, key=keys, index=0, domain="gumbel")
    dev = uniform(seed=0, key=torch.from_numpy(keys), index=0, domain="gumbel")
    assert host.shape == shape and tuple(dev.shape) == shape
    assert gumbel_sample(P2, seed=0, key=[]).shape == (0,)  # a Python list too


@needs_torch
def test_empty_keys_for_rows_are_refused_naming_the_shape():
    rows = torch.tensor([P2, P2], dtype=torch.float64)
    for call in (gumbel_sample, wmh_sample):
        with pytest.raises(ValueError, match=r"key must have shape \(2,\).*got shape \(0,\)"):
            call(rows, seed=0, key=torch.zeros(0, dtype=torch.int64))


@needs_torch
def test_uint64_key_tensors_are_read_as_unsigned():
    small = np.array([0, 5, 2**63 - 1], dtype=np.uint64)
    tensor_p = torch.tensor(P2, dtype=torch.float64)
    keys = torch.from_numpy(small.astype(np.int64)).to(torch.uint64)
    for sampler in SOLO.values():
        assert sampler(tensor_p, seed=2, key=keys).tolist() == (
            sampler(P2, seed=2, key=small).tolist()
        )
    want = uniform(seed=2, key=small, index=1, domain="gumbel")
    assert uniform(seed=2, key=keys, index=1, domain="gumbel").numpy().tolist() == want.tolist()


@needs_torch
@pytest.mark.parametrize("values", [[2**63], [3, 2**63 + 5, 2**64 - 1], [2**64 - 1, 1]])
def test_uint64_keys_from_2_63_are_refused_with_their_value(values):
    """The numpy message for the same keys: the greatest of them, as the unsigned number."""
    host = np.array(values, dtype=np.uint64)
    keys = torch.from_numpy(host.view(np.int64).copy()).view(torch.uint64)
    with pytest.raises(ValueError) as numpy_error:
        gumbel_sample(P2, seed=0, key=host)
    message = str(numpy_error.value)
    assert message.endswith(f"got {max(values)}")
    tensor_p = torch.tensor(P2, dtype=torch.float64)
    for call in (
        lambda: gumbel_sample(tensor_p, seed=0, key=keys),
        lambda: wmh_sample(tensor_p, seed=0, key=keys),
        lambda: gls_columns(tensor_p, 2, seed=0, key=keys),
        lambda: uniform(seed=0, key=keys, index=0, domain="gumbel"),
        lambda: gls_target(P2, 2, seed=0, key=keys),
    ):
        with pytest.raises(ValueError) as error:
            call()
        assert str(error.value) == message and "\n" not in message


@needs_torch
def test_negative_and_non_integer_key_tensors_match_the_numpy_messages():
    tensor_p = torch.tensor(P2, dtype=torch.float64)
    host = np.array([4, -(2**62) - 3, 1])
    with pytest.raises(ValueError) as numpy_error:
        gumbel_sample(P2, seed=0, key=host)
    with pytest.raises(ValueError) as torch_error:
        gumbel_sample(tensor_p, seed=0, key=torch.from_numpy(host))
    assert str(torch_error.value) == str(numpy_error.value)
    assert str(numpy_error.value).endswith(f"got {-(2**62) - 3}")  # exact, not a rounded float
    for bad in (torch.tensor([True]), torch.tensor([1.0]), torch.tensor([1j])):
        with pytest.raises(TypeError, match="key must be an int or an integer tensor"):
            gumbel_sample(tensor_p, seed=0, key=bad)


# --- item 11: the relay's expected bits and law at any size; empty exact inputs -------------


def _expected_bits_rational(n, extra):
    """The old formula, exact and slow: rho / (1 - rho) with rho = (1 - 1/n)^(2^r) in Fractions
    (about n log2 n bits: 40 s at n = 10^6)."""
    r = rice_parameter(n)
    rho = Fraction(n - 1, n) ** (1 << r)
    return (extra + 1) * (1 + r + rho / (1 - rho))


def test_expected_bits_is_the_exact_value_correctly_rounded():
    for n in [*range(1, 1500), 4095, 4096, 4097, 65_536, 100_003]:
        for extra in (0, 1, 7):
            assert expected_bits(n, extra=extra) == float(_expected_bits_rational(n, extra)), n


def test_expected_bits_at_large_n_is_immediate():
    """Before: 1.4 s at 10^5, over 40 s at 10^6 (a Fraction with ~n log2 n bits)."""
    start = time.perf_counter()
    for n in (10**6, 10**7, 10**12, 2**62 + 1):
        r = rice_parameter(n)
        # independent float evaluation of 1 / (x^(2^r) - 1), x = n / (n - 1)
        tail = 1.0 / math.expm1(-(1 << r) * math.log1p(-1.0 / n))
        assert math.isclose(expected_bits(n, extra=3), 4 * (1 + r + tail), rel_tol=1e-12)
    assert time.perf_counter() - start < 10.0  # generous: microseconds each


def test_relay_law_at_large_extra_reaches_its_limit():
    """f = (1 + D)^-(extra + 1) underflows: the law is the limit f = 0 (before: OverflowError
    from extra of about 3,900 at D = 0.2)."""
    p, q = [0.6, 0.4], [0.4, 0.6]
    for extra in (3_899, 3_900, 10**6, MAX_EXTRA):
        law = relay_exact(p, q, extra=extra)
        assert law.D == pytest.approx(0.2, abs=1e-15)
        assert law.collision == pytest.approx(1 - law.D, abs=1e-300)
        assert law.bob_law == pytest.approx(q, abs=1e-15) and law.bob_tv <= 1e-300
        assert law.failure <= 1e-300
    exact = [Fraction(3, 5), Fraction(2, 5)], [Fraction(2, 5), Fraction(3, 5)]
    for extra in (0, 1, 5, 40, 3_899):
        law, rational = relay_exact(p, q, extra=extra), relay_exact(*exact, extra=extra)
        assert law.collision == pytest.approx(float(rational.collision), rel=1e-13)
        assert law.failure == pytest.approx(float(rational.failure), rel=1e-12, abs=1e-320)
    with pytest.raises(ValueError, match=r"exact relay law with extra = .* needs about .*memory"):
        relay_exact(*exact, extra=2**62)
    with pytest.raises(ValueError, match=f"extra must be <= {MAX_EXTRA}"):
        relay_exact(p, q, extra=MAX_EXTRA + 1)


@pytest.mark.parametrize(
    "call",
    [interactive_exact, lambda p, q: quantized_exact(p, q, 3), relay_exact],
    ids=["interactive", "quantized", "relay"],
)
def test_empty_exact_inputs_are_refused_in_one_line(call):
    for p, q, which in (([], [], "p"), ([Fraction(1)], [], "q"), ((), [0.5, 0.5], "p")):
        with pytest.raises(ValueError, match=f"^{which} is empty: a distribution needs"):
            call(p, q)


# --- item 10: the exact list coupling in pieces, with progress and Ctrl-C -------------------


class _Stop(Exception):
    pass


def test_list_matching_pieces_and_threads_never_change_the_value(monkeypatch, restore_threads):
    pair = make_pair("dirichlet", 3000, seed=8)
    whole = list_matching(pair.p, pair.q, 5)
    steps = []
    monkeypatch.setattr(_pieces, "PIECE_SECONDS", 1e-9)  # after the first, one node a piece
    numba.set_num_threads(1)
    cut = list_matching(pair.p, pair.q, 5, progress=steps.append)
    assert cut.value == whole.value and np.array_equal(cut.by_item, whole.by_item)
    assert sum(steps) == cut.nodes and steps.count(1) > cut.nodes // 2  # nodes cut apart
    assert list_matching_probability(pair.p, pair.q, 5, progress=steps.append) == whole.value


def test_list_matching_at_a_million_items_reports_progress_and_stops():
    pair = make_pair("dirichlet", 10**6, seed=1)
    steps = []

    def progress(nodes):
        steps.append((nodes, time.monotonic()))
        if len(steps) == 3:
            raise _Stop

    start = time.monotonic()
    with pytest.raises(_Stop):
        list_matching(pair.p, pair.q, 8, progress=progress)
    assert all(nodes >= 1 for nodes, _ in steps)
    assert steps[-1][1] - start < 60  # generous: each piece is about a quarter second
    with pytest.raises(TypeError, match="progress must be callable"):
        list_matching([0.5, 0.5], [0.5, 0.5], 2, progress=3)


def test_ctrl_c_stops_an_exact_gls_simulate_within_seconds():
    """The quadrature's bar moves (a count of nodes), and Ctrl-C ends the run at the next piece
    (before: no bar for minutes at n = 10^7, and Ctrl-C took 16 s)."""
    proc = _coupling("simulate", "--protocols", "gls", "--drafts", "8", "--n", "2000000")
    _read_until(proc, re.compile(rb"gls exact: [1-9][0-9.]*k?nodes"), timeout=180)
    status, err, seconds = _interrupt(proc, group=True)
    assert status == 130, err
    assert err.rstrip().endswith("coupling simulate: interrupted") and "Traceback" not in err
    assert seconds < 20  # generous: a piece lasts about a quarter second


# --- item 12: coupling search --region, bounded and with progress ---------------------------


def test_region_above_its_maximum_is_refused_before_the_search(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the search ran")

    monkeypatch.setattr("coupling.simulate.search.search", never)
    out = tmp_path / "o"
    rc = main(["search", "--region", str(MAX_REGION_POINTS + 1), "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err, err
    assert err == (f"coupling search: error: --region must be <= {MAX_REGION_POINTS}, "
                   f"got {MAX_REGION_POINTS + 1}")  # fmt: skip
    assert not out.exists()
    with pytest.raises(ValueError, match=f"points must be <= {MAX_REGION_POINTS}"):
        achievable_region(4, 10**6, seed=0)


def test_region_reports_each_search():
    steps = []
    env = achievable_region(3, 2, seed=0, maxiter=5, progress=steps.append)
    assert steps == [1] * 4 and all(len(d) == 2 and len(v) == 2 for d, v in env.values())


def test_ctrl_c_stops_a_region_map_keeping_the_search_files(tmp_path):
    out = tmp_path / "o"
    proc = _coupling("search", "--n", "6", "--maxiter", "30", "--region", "60", "--out", str(out))
    _read_until(proc, re.compile(rb"region: +[0-9]+%[^/]*\| *[1-9][0-9.]*/120"), timeout=180)
    status, err, seconds = _interrupt(proc, group=True)
    assert status == 130, err
    assert err.rstrip().endswith("coupling search: interrupted") and "Traceback" not in err
    assert seconds < 20  # generous: the optimiser sees Ctrl-C between two evaluations
    # the search's two files (beside the directory's lock) and nothing half-written
    best, table = sorted(f for f in out.iterdir() if not f.name.startswith("."))
    assert best.name.startswith("best_pareto-min") and best.suffix == ".npz", best
    assert table.name.startswith("search_pareto-min") and table.suffix == ".md", table
    with np.load(best) as pair:
        assert pair["p"].sum() == pytest.approx(1) and pair["q"].sum() == pytest.approx(1)
    assert table.read_text().startswith("| objective")
