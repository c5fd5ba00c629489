"""``coupling prove`` on disk: each certificate as JSON, and the figures and tables of the claims
that have them (the LP optimum and the optimality theorem's type optima of claim 5, the
communication trade-off of claim 6)."""

from pathlib import Path

from coupling.figures.communication import communication_tradeoff_figure
from coupling.figures.optimality import optimality_figure
from coupling.figures.proofs import lp_optimum_figure
from coupling.outputs import save_figure, write_json, write_table
from coupling.proofs import run_claims
from coupling.proofs.communication import tradeoff_curves
from coupling.proofs.optimality import upper_bound_curves

__all__ = ["local_optima_table", "prove", "write_certificates", "write_claim_figures"]


def write_certificates(certs, out_dir):
    """Store each certificate as ``<out_dir>/<claim>.json`` (setting its ``path``)."""
    paths = []
    for cert in certs:
        path = Path(out_dir) / f"{cert.claim}.json"
        cert.path = str(path)
        paths.append(write_json(path, cert.as_dict()))
    return paths


def write_claim_figures(certs, out_dir):
    """The figures of claims 5 and 6 (when their certificates are among ``certs``), with the
    LP table as CSV and Markdown; returns the paths written."""
    out = Path(out_dir)
    paths = []
    for cert in certs:
        if cert.claim == "lp-optimality" and "table" in cert.detail:
            table = cert.detail["table"]
            paths += save_figure(lp_optimum_figure(table), out / "lp_optimum")
            paths += write_table(table, out / "lp_optimum", "Best protocol on uniform k-subsets")
        if cert.claim == "optimality" and "observations" in cert.detail:
            obs = cert.detail["observations"]
            curves = upper_bound_curves(obs["local_optima"])
            figure = optimality_figure(obs["families"], [*obs["local_optima"], *obs["beyond"]],
                                       curves)  # fmt: skip
            paths += save_figure(figure, out / "optimality_types", config={"curves": curves})
            paths += write_table(local_optima_table(obs), out / "local_optima",
                                 "Local optima of the types (k, m) on k + m points")  # fmt: skip
        if cert.claim == "communication" and cert.verdict in ("verified", "proved"):
            curves = tradeoff_curves()
            paths += save_figure(
                communication_tradeoff_figure(curves),
                out / "communication_tradeoff",
                config={"curves": curves},
            )
    return paths


def local_optima_table(observations):
    """The optimality certificate's local optima (and the types beyond, with their
    brackets) as table rows: type, D, local optimum, (1 - D)/(1 + D), relation."""
    rows = []
    for r in (*observations["local_optima"], *observations["beyond"]):
        value = r["optimum"] if r["finished"] else f"[{r['optimum']}, {r['upper']}]"
        rows.append({"k": r["k"], "m": r["m"], "points": r["n"], "D": r["D"],
                     "local optimum": value, "(1-D)/(1+D)": r["bound"],
                     "relation": r["relation"], "nodes": r["nodes"]})  # fmt: skip
    return rows


def prove(names=None, *, full=False, out_dir, progress=None, options=None):
    """Run the claims, write their certificates and figures; returns (certificates, paths).
    ``options``: per-claim keyword arguments (:func:`coupling.proofs.run_claims`)."""
    certs = run_claims(names, full=full, progress=progress, options=options)
    paths = write_certificates(certs, out_dir)
    return certs, paths + write_claim_figures(certs, out_dir)
