"""The report's sections on the certificates of ``coupling prove``: the verdict table with the
LP optimum, then one section per claim of the paper's optimality story (Pareto, symmetric
optimality, list matching) and the communication trade-off. Each takes a
:class:`~coupling.reports._markdown.ReportData` and returns Markdown, or None when its certificate
or figure is absent."""

import json
import math
from fractions import Fraction

from coupling.outputs import format_table
from coupling.reports._markdown import image
from coupling.reports.proofs import local_optima_table

__all__ = ["communication", "list_matching_certificate", "optimality_certificate",
           "optimality_lines", "pareto_certificate", "proofs", "symmetric_certificate"]  # fmt: skip


def _cert(data, claim):
    return next((c for c in data.certificates if c.claim == claim), None)


def _head(cert, title, statement):
    cases = f" on {cert.cases:,} cases" if cert.cases else ""
    return (f"### {title}: {cert.verdict}{cases}\n\n{statement} Method: {cert.method} "
            f"({cert.seconds:.1f} s).")  # fmt: skip


def proofs(data):
    """The table of every claim's verdict (None: no certificates)."""
    if not data.certificates:
        return None
    rows = [[c.claim, c.verdict + (f" on {c.cases} cases" if c.cases else ""), c.method,
             f"{c.seconds:.1f}"] for c in data.certificates]  # fmt: skip
    ok = sum(c.verdict in ("proved", "verified") for c in data.certificates)
    out = [
        "## Proofs: the certificates",
        "",
        f"{ok} of {len(data.certificates)} claims proved or verified "
        f"(certificates as JSON in `{data.link(data.proofs_dir)}`).",
        "",
        format_table(["claim", "verdict", "method", "seconds"], rows, markdown=True),
        "",
    ]
    lp = data.proofs_dir / "lp_optimum.png"
    if lp.exists():
        table = (data.proofs_dir / "lp_optimum.md").read_text().split("\n", 2)[-1]
        out += ["### LP optimum on uniform k-subsets", "", image(data, lp, "LP optimum"),
                "The exact best collision probability of any communication-free protocol on "
                "uniform k-subsets, against the (1 - D)/(1 + D) bound:", "", table]  # fmt: skip
    return "\n".join(out)


def pareto_certificate(data):
    """The per-item Pareto claim: what was proved, on how many cases."""
    cert = _cert(data, "pareto")
    if cert is None:
        return None
    d = cert.detail
    steps = d.get("steps", {})
    return (
        _head(cert, "Pareto: Gumbel beats weighted MinHash item by item",
              "For every pair P, Q and every item i, Gumbel's Pr[a = b = i] is at least "
              "WMH's (G_i >= W_i), so J_P - WMH is a sum of nonnegative per-item terms.")
        + f" {sum(bool(v) for v in steps.values())} of {len(steps)} symbolic steps hold "
        f"(case split: {', '.join(d.get('case_split', {}))}); exact rational grids cover "
        f"{d.get('grid_items', 0):,} items with smallest margin G_i - W_i = "
        f"{d.get('grid_smallest_margin')}. The language-model section on the gap item by item "
        "applies the same split along the positions.\n"
    )  # fmt: skip


def symmetric_certificate(data):
    """Symmetric optimality and its extension table."""
    cert = _cert(data, "symmetric-optimality")
    if cert is None:
        return None
    d = cert.detail
    one = d.get("one_out", [])
    tight = [r["k"] for r in one if r["optimum"] == r["claimed"]]
    ext = d.get("extension", [])
    rows = [[r["k"], r["m"], r["n"], r["D"], r["optimum"], r["bound"],
             "yes" if r["holds"] else "no"] for r in ext]  # fmt: skip
    fails = [r for r in ext if Fraction(r["optimum"]) > Fraction(r["bound"])]
    out = [
        _head(cert, "Symmetric optimality at D = 1/k",
              "No symmetric communication-free protocol (both parties apply the same map, as "
              "Gumbel and WMH do) beats (1 - D)/(1 + D) on its worst pair at D = 1/k, and "
              "min-hash meets it.")
        + f" The exact symmetric optimum on one-out sets equals (k - 1)/(k + 1) for k = "
        f"{', '.join(map(str, tight))} (every choice function)."
    ]  # fmt: skip
    if rows:
        out.append(
            f"Beyond D = 1/k, on the k-subsets of a (k + m)-set at D = m/k, the exact symmetric "
            f"optimum exceeds (k - m)/(k + m) in {len(fails)} of {len(ext)} cases: there the "
            "bound fails on k + m items (the worst-case theorem lets the universe grow; see "
            "the LP table).\n\n"
            + format_table(
                [
                    "k",
                    "m",
                    "items",
                    "D",
                    "symmetric optimum",
                    "(1 - D)/(1 + D)",
                    "min-hash optimal",
                ],
                rows,
                markdown=True,
            )
        )
    return "\n\n".join(out) + "\n"


def list_matching_certificate(data):
    """The list matching formula's certificate."""
    cert = _cert(data, "list-matching")
    if cert is None:
        return None
    d = cert.detail
    sym = d.get("symbolic_cases", [])
    return (
        _head(cert, "List coupling: the exact matching probability",
              "The exact Pr[target's token in the list of K drafts] (one integral per item) "
              "reduces to J_P at K = 1 and to the list matching lemma when the other columns "
              "are ignored.")
        + f" {sum(c.get('zero', False) for c in sym)} of {len(sym)} symbolic reductions are "
        f"exactly zero; against exact rationals from a per-column derivation on "
        f"{d.get('pairs', 0)} pairs with K in {d.get('drafts')}, the largest relative error "
        f"of the float quadrature is {d.get('max_relative_error', float('nan')):.1e}. The "
        "language-model section on the list coupling applies it along the positions.\n"
    )  # fmt: skip


def communication(data):
    """The communication trade-off figure and its certificate."""
    fig = data.proofs_dir / "communication_tradeoff.png" if data.proofs_dir else None
    if fig is None or not fig.exists():
        return None
    curves = json.loads(fig.with_suffix(".json").read_text())["curves"]
    text = "; ".join(
        f"{c['label']} (n = {c['n']}, D = {c['D']:.2f}): Gumbel {c['gumbel']:.3f} and WMH "
        f"{c['wmh']:.3f} with no bits, the interactive protocol 1 - D = "
        f"{c['interactive']['agreement']:.3f} with {c['interactive']['bits']:.0f} bits, the "
        f"dart relay {max(c['relay']['agreement']):.3f} with Bob's law off by "
        f"{min(c['relay']['bob_tv']):.1g} at {max(c['relay']['bits']):.0f} bits"
        for c in curves
    )
    out = ["## Communication trade-off", "", image(data, fig, "communication trade-off"),
           f"Exact Pr[a = b] against expected bits exchanged: {text}."]  # fmt: skip
    cert = _cert(data, "communication")
    if cert is not None:
        statements = cert.detail.get("statements", {})
        out += ["", _head(cert, "Communication certificate", "What exchanging bits buys:"), ""]
        out += [f"- {v['status']} ({v['cases']} cases): {k}" for k, v in statements.items()]
        opened = cert.detail.get("open") or []
        out += [f"- {o}" for o in ([opened] if isinstance(opened, str) else opened)]
    return "\n".join(out) + "\n"


def _up(value, digits=7):
    """A Fraction rounded up to ``digits`` decimals (a printed bound stays a bound)."""
    scale = 10**digits
    return f"{math.ceil(Fraction(value) * scale) / scale:.{digits}f}"


def _down(value, digits=7):
    scale = 10**digits
    return f"{math.floor(Fraction(value) * scale) / scale:.{digits}f}"


def optimality_lines(cert):
    """The optimality certificate in a few lines for the terminal: each extracted pair (n, K,
    the certified TV range, the agreement bound, rounded outward), each statement's status
    and the observation on overlap >= 2. Other claims: no lines."""
    if cert.claim != "optimality" or "statements" not in cert.detail:
        return []
    statements = cert.detail["statements"]
    lines = []
    for row in statements["extraction"].get("pairs", []):
        low, high = (Fraction(v) for v in row["tv_range"])
        lines.append(
            f"optimality, delta = {row['delta']}, eps = {row['eps']}: at n = {row['n']:,}, "
            f"K = {row['K']:,}, every protocol has a pair of uniform laws on K-sets with "
            f"|A n B| in [{row['overlap'][0]}, {row['overlap'][1]}], TV in [{low}, {high}] "
            f"= [{_down(low)}, {_up(high)}], and Pr[a = b] <= {_up(row['agreement_bound'])} "
            f"((1-delta)/(1+delta) + eps = {_up(Fraction(row['target']) + Fraction(row['eps']))};"
            " exact sums, rounded up)"
        )
    lines.append("optimality statements: " + ", ".join(
        f"{name} {v['status']}" for name, v in statements.items()))  # fmt: skip
    obs = cert.detail["observations"]["overlap_at_least_two"]
    lines.append(
        f"observation '{obs['statement']}': {obs['status']}; equal at "
        f"{', '.join(obs['proved_equal']) or 'none'}; beaten at "
        f"{'; '.join(obs['refuted_by_exact_witness']) or 'none'}"
    )
    return lines


def optimality_certificate(data):
    """Claim 5 for every protocol and every D: the statements, the extracted pairs, the
    type optima against n with their proven bounds, and the local optima."""
    cert = _cert(data, "optimality")
    if cert is None or "statements" not in cert.detail:
        return None
    statements = cert.detail["statements"]
    obs = cert.detail["observations"]
    out = [
        _head(cert, "Worst-case optimality for every protocol and every D",
              "No communication-free protocol (Alice's and Bob's maps may differ) beats "
              "(1 - D)/(1 + D) in the worst case."),
        "",
        *[f"- {v['status']}: **{name}**: {v['statement']}" for name, v in statements.items()],
        "",
    ]
    pairs = statements["extraction"].get("pairs", [])
    if pairs:
        rows = [[p["delta"], p["n"], p["K"], f"[{_down(p['tv_range'][0], 4)}, "
                 f"{_up(p['tv_range'][1], 4)}]", _up(p["agreement_bound"], 5),
                 _up(p["target"], 5)] for p in pairs]  # fmt: skip
        out += [f"Theorem A, one pair (eps = {statements['extraction']['eps']}): at (n, K) "
                "every protocol has a pair with TV in the range and agreement at most the "
                "bound (exact sums, rounded outward):", "",
                format_table(["delta", "n", "K", "TV range", "agreement <=",
                              "(1-delta)/(1+delta)"], rows, markdown=True), ""]  # fmt: skip
    fig = data.proofs_dir / "optimality_types.png" if data.proofs_dir else None
    if fig is not None and fig.exists():
        out += [image(data, fig, "type optima against n and local optima")]
    fam = [[r["k"], r["m"], r["n"], r["optimum"], r.get("proven_upper", ""),
            ", ".join(f"{k} {v}" for k, v in r.get("upper_bounds", {}).items())]
           for r in sorted(obs["families"], key=lambda r: (r["k"], r["m"], r["n"]))
           if r["finished"]]  # fmt: skip
    out += ["Overlap one, exact V(n) (all pairs of maps, asymmetric included) beside the "
            "proven upper bounds; the limit is (1 - D)/(1 + D):", "",
            format_table(["k", "m", "n", "V(n)", "proven upper", "bounds"], fam,
                         markdown=True), ""]  # fmt: skip
    columns = ["k", "m", "points", "D", "local optimum", "(1-D)/(1+D)", "relation"]
    loc = [[r[c] for c in columns] for r in local_optima_table(obs)]  # without the nodes
    observation = obs["overlap_at_least_two"]
    beaten = "; ".join(observation["refuted_by_exact_witness"]) or "none"
    out += ["Local optima on k + m points (exact search; a bracket where it was stopped):", "",
            format_table(columns, loc, markdown=True), "",
            f"Observation '{observation['statement']}': {observation['status']} (equal at "
            f"{', '.join(observation['proved_equal']) or 'none'}; beaten by an exact pair of "
            f"maps at {beaten})."]  # fmt: skip
    return "\n".join(out) + "\n"
