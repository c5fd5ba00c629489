"""Objective expressions are data: the whitelisting walker refuses every escape before any
work starts, and evaluates the grammar it allows exactly like the arithmetic it spells."""

import math

import numpy as np
import pytest
from coupling.simulate.expression import MAX_LENGTH, compile_expression
from coupling.simulate.search import VALUE_NAMES, compile_objective, pair_values

from coupling.cli import main

ESCAPES = {
    "lambda": "(lambda n=np: n.__dict__['__builtins__']['__import__']('os').system('x'))() * 0",
    "list comprehension": "[__import__('os').system('x') for _ in (1,)][0]",
    "generator": "sum(x for x in (1, 2))",
    "set comprehension": "{x for x in (1,)}",
    "attribute": "gumbel.__class__",
    "dunder name": "__builtins__",
    "import call": "__import__('os')",
    "subscript": "(1, 2)[0]",
    "string literal": "'gumbel'",
    "bytes literal": "b'x'",
    "unknown call": "open('/etc/passwd')",
    "unknown name": "np",
    "walrus": "(x := gumbel)",
    "keyword argument": "max(gumbel, key=abs)",
    "starred argument": "max(*(gumbel, wmh))",
    "conditional": "gumbel if wmh else D",
    "boolean operator": "gumbel and wmh",
    "f-string": "f'{gumbel}'",
    "bool literal": "True + gumbel",
    "bitwise operator": "1 << 3",
    "statement": "import os",
    "infinite literal": "gumbel * 1e400",
    "method on a literal": "(1).__class__",
    "call of a call": "max(1)(2)",
}


@pytest.mark.parametrize("text", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_is_refused_naming_the_piece(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"objective .*:") as err:
        compile_expression(text, names=VALUE_NAMES)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_the_reported_exploit_runs_nothing(tmp_path, capsys):
    """The issue's exploit, through the CLI: exit 2 before the search, no file written."""
    marker = tmp_path / "PWNED"
    payload = (
        "(lambda n=np: n.__dict__['__builtins__']['__import__']('os')"
        f".system('echo pwned >> {marker}'))() * 0 + gumbel"
    )
    out = tmp_path / "out"
    rc = main(["search", "--maxiter", "1", "--n", "2", "--objective", payload, "--out", str(out)])
    assert rc == 2
    assert "coupling search: error: objective" in capsys.readouterr().err
    assert not marker.exists()
    assert not out.exists()


def test_grammar_matches_python_arithmetic():
    env = {"gumbel": 0.7, "wmh": 0.4, "D": 0.3}
    cases = {
        "gumbel - wmh": 0.7 - 0.4,
        "-gumbel + +wmh": -0.7 + 0.4,
        "gumbel / (1 + D) ** 2": 0.7 / 1.3**2,
        "min(gumbel, wmh, D) + max(D, 0.5)": 0.3 + 0.5,
        "abs(wmh - gumbel)": abs(0.4 - 0.7),
        "log(gumbel) + exp(D) + sqrt(wmh)": math.log(0.7) + math.exp(0.3) + math.sqrt(0.4),
        "D < wmh < gumbel": 1.0,
        "gumbel <= wmh": 0.0,
        "2 ** 0.5": 2**0.5,
    }
    for text, want in cases.items():
        assert compile_expression(text, names=env)(env) == pytest.approx(want, rel=1e-15), text


def test_arithmetic_edges_are_floats_not_errors_or_big_integers():
    env = {"D": 0.0}
    assert compile_expression("10 ** 10 ** 10", names=env)(env) == math.inf
    assert math.isnan(compile_expression("(-1) ** 0.5", names=env)(env))
    assert compile_expression("log(D)", names=env)(env) == -math.inf
    with pytest.raises(ZeroDivisionError):
        compile_expression("1 / D", names=env)(env)


@pytest.mark.parametrize("text", ["", "   ", "x" * (MAX_LENGTH + 1), "gumbel +", "-" * 200 + "1"])
def test_malformed_or_oversized_expressions_are_refused(text):
    with pytest.raises(ValueError, match="objective"):
        compile_expression(text, names=VALUE_NAMES)


def test_named_objectives_and_max_prefix_compile():
    p, q = np.array([0.6, 0.4]), np.array([0.3, 0.7])
    values = pair_values(p, q)
    fn, sense, _ = compile_objective("max:gumbel - wmh")
    assert sense == "max"
    assert fn(p, q) == pytest.approx(values["gumbel"] - values["wmh"])
    fn, sense, _ = compile_objective("pareto-min")
    assert sense == "min"
    with pytest.raises(TypeError):
        compile_objective(3)
