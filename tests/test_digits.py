"""The digit exchange: definition, the message-level protocol, its exact law, the kernel."""

import math
from fractions import Fraction

import numpy as np
import pytest
from coupling.simulate import _exchange
from coupling.simulate.digits import (
    COMPARISON_OVERHEAD,
    HORIZON,
    compare_digits,
    comparison_law,
)
from hypothesis import given
from hypothesis import strategies as st

# Dyadic rationals of [0, 1]: floats of every scale (subnormals included) and short Fractions.
unit_floats = st.one_of(
    st.floats(0.0, 1.0),
    st.sampled_from([0.0, 1.0, 0.5, 5e-324, 2.2250738585072014e-308, 1 - 2**-53]),
)
# The public uniforms: (k + 1/2) 2^-53 as word_to_uniform computes it (multiples of 2^-54).
public_uniforms = st.one_of(
    st.integers(0, 2**53 - 1), st.sampled_from([0, 1, 2**52 - 1, 2**52, 2**53 - 1])
).map(lambda k: (k + 0.5) * 2.0**-53)
short_dyadics = st.builds(
    lambda k, num: Fraction(num % (2**k + 1), 2**k), st.integers(0, 12), st.integers(0, 2**12)
)
dyadics = st.one_of(unit_floats, short_dyadics)


def digit(z, j):
    """d_j(z) = floor(z 2^j) mod 2, straight from the definition."""
    return math.floor(Fraction(z) * 2**j) % 2


def play(x, y):
    """The exchange as messages: the party due at position j knows only its own number and the
    digits received. Returns (x < y as the parties conclude, the transcript)."""
    number = {"alice": x, "bob": y}
    sent = [digit(x, 0)]  # the digit sent at each position so far
    transcript = str(sent[0])
    for j in range(1, HORIZON + 2):
        me = "alice" if j % 2 == 0 else "bob"
        if j > HORIZON:  # every position agreed: x = y
            return False, transcript + "10"
        if digit(number[me], j - 1) != sent[j - 1]:  # I see the first difference: stop
            # x's digit at j - 1 is mine if I am Alice, else the one Alice sent me
            return sent[j - 1] == 0 if me == "bob" else digit(x, j - 1) == 0, transcript + "10"
        sent.append(digit(number[me], j))
        transcript += "11" if sent[-1] else "0"
    raise AssertionError("unreachable")


@given(dyadics, dyadics)
def test_exchange_follows_the_definition(x, y):
    c = compare_digits(x, y)
    assert c.less == (Fraction(x) < Fraction(y))
    if Fraction(x) == Fraction(y):
        assert c.position is None and c.digits == HORIZON + 1
    else:
        j = c.position
        assert digit(x, j) != digit(y, j)
        assert all(digit(x, i) == digit(y, i) for i in range(j))
        assert c.digits == j + 1


@given(st.one_of(short_dyadics, st.floats(0.0, 1.0)), st.one_of(short_dyadics, st.floats(0, 1)))
def test_bits_are_the_length_of_the_message_level_protocol(x, y):
    if Fraction(x) == Fraction(y):
        return  # a tie plays HORIZON positions; covered by test_ties
    less, transcript = play(x, y)
    c = compare_digits(x, y)
    assert less == c.less
    assert len(transcript) == c.bits


def test_ties_and_corners():
    tie = compare_digits(0.5, 0.5)
    assert not tie.less and tie.digits == HORIZON + 1
    assert tie.bits == HORIZON + 1 + 1 + 2  # one sent digit 1: Bob's at position 1
    assert compare_digits(1.0, 1.0).bits == HORIZON + 1 + 2  # digit 1 at position 0 is free
    assert compare_digits(0, 1) == (True, 0, 1, 3)
    assert compare_digits(5e-324, 0.0).position == 1074


@pytest.mark.parametrize("bad", [Fraction(1, 3), 1.5, -0.25, float("nan"), "0.5", True])
def test_bad_numbers(bad):
    with pytest.raises((TypeError, ValueError)):
        compare_digits(bad, 0.5)


def test_bad_law_arguments():
    with pytest.raises(ValueError, match="positive"):
        comparison_law(0, 0.5, random_party="alice")
    with pytest.raises(ValueError, match="random_party"):
        comparison_law(0.5, 0.5, random_party="carol")
    with pytest.raises(ValueError, match="dyadic"):
        comparison_law(0.5, Fraction(1, 3), random_party="bob")


GRID_LEVEL = 12  # midpoints of 2^12 cells of [0, w)
# With w a power of two the cells are dyadic: on every cell but the one holding r the digits
# up to the cell's level fix the whole exchange, so it is constant there. The cell holding r
# (r has no digit past that level) has mass 2^-12 and within it J is the level plus a
# geometric number, so the midpoint is off its mean by at most 1 digit and 2 flag bits.
GRID_TOLERANCE = 4 * 2.0**-GRID_LEVEL


@pytest.mark.parametrize("w", [Fraction(1), Fraction(1, 2), Fraction(1, 8)])
@pytest.mark.parametrize("r", [Fraction(0), Fraction(1, 16), Fraction(5, 16), Fraction(11, 32), 1])
@pytest.mark.parametrize("party", ["alice", "bob"])
def test_law_is_the_average_over_the_uniform(w, r, party):
    law = comparison_law(w, r, random_party=party)
    cells = 2**GRID_LEVEL
    total = np.zeros(3)
    for i in range(cells):
        s = w * Fraction(2 * i + 1, 2 * cells)
        c = compare_digits(s, r) if party == "alice" else compare_digits(r, s)
        total += (c.less, c.digits, c.bits)
    mean = total / cells
    for got, exact in zip(mean, law):
        assert abs(got - float(exact)) <= GRID_TOLERANCE
    assert float(law.bits) < math.log2(1 / w) + COMPARISON_OVERHEAD


def test_law_known_values():
    law = comparison_law(Fraction(1, 2), Fraction(1, 4), random_party="alice")
    # J = 2 w.p. 1/2 (s < 1/4), else 3 + Geometric: E[J + 1] = 4; flags: Alice's digit 1 at
    # position 2 (w.p. 1/2) and her tail digits (2/3 of the remaining 1/4)
    assert law == (Fraction(1, 2), Fraction(4), Fraction(4) + Fraction(1, 2) + Fraction(1, 6) + 2)
    assert comparison_law(1, 1, random_party="alice").less == 1  # s < 1 always


def _kernel(x, y, product):
    """The compiled exchange: Alice's u w (or x), Bob's y."""
    xs = _exchange.from_product(*x) if product else _exchange.from_float(x)
    ys = _exchange.from_float(y)
    words = [np.uint64(v) for v in (xs[0], xs[1], ys[0], ys[1])]  # Python ints lose the type
    return _exchange.compare(words[0], words[1], *xs[2:], words[2], words[3], *ys[2:])


@given(public_uniforms, unit_floats, unit_floats)
def test_kernel_equals_the_reference(u, w, y):
    less, bits = _kernel((u, w), y, product=True)
    c = compare_digits(Fraction(u) * Fraction(w), y)
    assert (less, bits) == (c.less, c.bits)
    less, bits = _kernel(w, y, product=False)
    c = compare_digits(w, y)
    assert (less, bits) == (c.less, c.bits)


def test_kernel_ties_and_extremes():
    for x, y in ((0.5, 0.5), (0.0, 0.0), (1.0, 1.0), (5e-324, 5e-324)):
        assert _kernel(x, y, product=False) == tuple(compare_digits(x, y))[::3]
    smallest = (2.0**-54, 5e-324)  # the finest product: a digit at position HORIZON
    less, bits = _kernel(smallest, 0.0, product=True)
    assert (less, bits) == tuple(compare_digits(Fraction(2.0**-54) * Fraction(5e-324), 0))[::3]
