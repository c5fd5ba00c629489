"""Arithmetic objectives typed by a user, parsed with ``ast`` and evaluated by a whitelisting
walker: user text is data, never code, so nothing here reaches ``eval`` or ``exec``.

The grammar: real number literals; the names of :func:`coupling.simulate.search.pair_values` (the
exact quantities of a pair); ``+ - * / **`` and unary minus or plus; the comparisons
``< <= > >= == !=`` (1.0 when true, else 0.0; chains allowed); and calls of the functions in
:data:`FUNCTIONS` with positional arguments. Every other construct (attribute access,
subscripts, lambdas, comprehensions, strings, keyword arguments, walrus, unknown names) is
refused at parse time with a ValueError naming the offending piece, before any work starts.
All arithmetic is in Python floats, so no expression can build huge integers: an overflow is
``inf`` and a division by zero raises ZeroDivisionError for the caller to handle.

Examples
--------
>>> fn = compile_expression("max(gumbel - wmh, 0) / optimal", names=("gumbel", "wmh", "optimal"))
>>> fn({"gumbel": 0.5, "wmh": 0.25, "optimal": 0.75})
0.3333333333333333
"""

import ast
import math
import operator

__all__ = ["FUNCTIONS", "MAX_LENGTH", "compile_expression"]

MAX_LENGTH = 500  #: characters; longer expressions are refused
_MAX_DEPTH = 50  # nesting levels of the syntax tree


def _log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def _sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


def _exp(x):
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


#: name -> (function, number of arguments: an int, or None for one or more)
FUNCTIONS = {
    "min": (min, None),
    "max": (max, None),
    "abs": (abs, 1),
    "log": (_log, 1),
    "exp": (_exp, 1),
    "sqrt": (_sqrt, 1),
}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _refuse(node, text, why):
    piece = ast.get_source_segment(text, node) or type(node).__name__
    raise ValueError(f"objective {text!r}: {why}: {piece!r}")


def _check(node, text, names, depth=0):
    """Walk the tree once and refuse anything outside the grammar."""
    if depth > _MAX_DEPTH:
        _refuse(node, text, f"nested deeper than {_MAX_DEPTH} levels")
    if isinstance(node, ast.Expression):
        return _check(node.body, text, names, depth + 1)
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            _refuse(node, text, "only real number literals are allowed")
        if not math.isfinite(float(value)):
            _refuse(node, text, "a number literal overflows to infinity")
        return
    if isinstance(node, ast.Name):
        if node.id not in names:
            _refuse(node, text, f"unknown name (known: {', '.join(sorted(names))})")
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            _refuse(node, text, "only + - * / ** are allowed")
        _check(node.left, text, names, depth + 1)
        return _check(node.right, text, names, depth + 1)
    if isinstance(node, ast.UnaryOp):
        if type(node.op) not in _UNARY:
            _refuse(node, text, "only unary minus and plus are allowed")
        return _check(node.operand, text, names, depth + 1)
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                _refuse(node, text, "only < <= > >= == != comparisons are allowed")
        for child in (node.left, *node.comparators):
            _check(child, text, names, depth + 1)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            _refuse(node.func, text, f"only the functions {', '.join(FUNCTIONS)} may be called")
        if node.keywords:
            _refuse(node, text, "keyword arguments are not allowed")
        arity = FUNCTIONS[node.func.id][1]
        count = len(node.args)
        if (arity is None and count < 1) or (arity is not None and count != arity):
            want = "at least 1" if arity is None else str(arity)
            _refuse(node, text, f"{node.func.id} takes {want} argument(s), got {count}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                _refuse(arg, text, "starred arguments are not allowed")
            _check(arg, text, names, depth + 1)
        return
    _refuse(node, text, f"{type(node).__name__} is not allowed")


def _evaluate(node, env):
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(env[node.id])
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, env), _evaluate(node.right, env)
        try:
            return float(_BINARY[type(node.op)](left, right))
        except OverflowError:
            return math.inf
        except TypeError:  # a negative number to a fractional power is complex
            return math.nan
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, env))
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, env)
        for op, comp in zip(node.ops, node.comparators):
            right = _evaluate(comp, env)
            if not _COMPARE[type(op)](left, right):
                return 0.0
            left = right
        return 1.0
    fn = FUNCTIONS[node.func.id][0]
    return float(fn(*(_evaluate(arg, env) for arg in node.args)))


def compile_expression(text, *, names):
    """Parse ``text`` into a function ``env -> float`` over the variables ``names``.

    Raises TypeError when ``text`` is not a str and ValueError (naming the offending piece)
    when it is empty, too long, not an expression, or uses anything outside the grammar.
    """
    if not isinstance(text, str):
        raise TypeError(f"an objective expression must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("objective expression is empty")
    if len(text) > MAX_LENGTH:
        raise ValueError(f"objective expression is {len(text)} characters; at most {MAX_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(
            f"objective {text!r} is neither a known name nor an expression: {exc.msg}"
        ) from None
    except (RecursionError, MemoryError):
        raise ValueError(f"objective {text!r} is nested too deeply") from None
    names = frozenset(names)
    _check(tree, text.strip(), names)

    def evaluate(env):
        return _evaluate(tree.body, env)

    return evaluate
