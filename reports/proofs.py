"""``coupling prove`` on disk: each certificate as JSON, and the figures and tables of the claims
that have them (the LP optimum of claim 5, the communication trade-off of claim 6)."""

from pathlib import Path

from coupling.figures.communication import communication_tradeoff_figure
from coupling.figures.proofs import lp_optimum_figure
from coupling.outputs import save_figure, write_json, write_table
from coupling.proofs import run_claims
from coupling.proofs.communication import tradeoff_curves

__all__ = ["prove", "write_certificates", "write_claim_figures"]


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
        if cert.claim == "communication" and cert.verdict in ("verified", "proved"):
            curves = tradeoff_curves()
            paths += save_figure(
                communication_tradeoff_figure(curves),
                out / "communication_tradeoff",
                config={"curves": curves},
            )
    return paths


def prove(names=None, *, full=False, out_dir, progress=None):
    """Run the claims, write their certificates and figures; returns (certificates, paths)."""
    certs = run_claims(names, full=full, progress=progress)
    paths = write_certificates(certs, out_dir)
    return certs, paths + write_claim_figures(certs, out_dir)
