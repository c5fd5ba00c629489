"""``coupling``: one command, one subcommand per job."""

import argparse
import math
import sys
import time
from pathlib import Path

from coupling._output import print_json, progress_bar
from coupling.cli_lm import add_parsers
from outputs import format_table

# Work (trials, or trials x items for the faithful engine) that takes a few seconds here.
_PROGRESS_WORK = {"fast": 20_000_000, "faithful": 2_000_000_000}


def _family_params(items):
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key] = int(value)
        except ValueError:
            try:
                params[key] = float(value)
            except ValueError:
                raise ValueError(f"--param {key}: {value!r} is not a number") from None
    return params


def _cmd_simulate(args):
    import numba

    from simulate import estimate, exact
    from simulate.families import from_npz, make_pair
    from simulate.montecarlo import ENGINES

    if args.threads:
        numba.set_num_threads(args.threads)
    protocols = [s.strip() for s in args.protocols.split(",") if s.strip()]
    for proto in protocols:
        if proto not in exact.PROTOCOLS:
            raise ValueError(
                f"unknown protocol {proto!r}; choose from {', '.join(exact.PROTOCOLS)}"
            )
    if args.engine not in ENGINES:
        raise ValueError(f"unknown engine {args.engine!r}; choose from {', '.join(ENGINES)}")
    if args.npz:
        pair = from_npz(args.npz)
    else:
        pair = make_pair(args.family, args.n, seed=args.seed, **_family_params(args.param))
    p, q, D = pair.p, pair.q, pair.D
    results = []
    work = args.trials * (p.size if args.engine == "faithful" else 1)
    show = not args.json and work >= _PROGRESS_WORK[args.engine]
    for proto in protocols:
        value = exact.collision_probability(p, q, proto)
        t0 = time.perf_counter()
        with progress_bar(args.trials, proto, enabled=show) as update:
            mc = estimate(
                p, q, proto, args.trials, seed=args.seed, engine=args.engine, progress=update
            )
        results.append((proto, value, mc, time.perf_counter() - t0))
    bounds = {
        "1 - D (optimal)": 1 - D,
        "gumbel lower bound": exact.gumbel_lower_bound(p, q),
        "(1-D)/(1+D)": exact.worst_case_bound(D),
        "1 - 2D": 1 - 2 * D,
        "weighted Jaccard": exact.weighted_jaccard(p, q),
    }
    if args.json:
        print_json(
            {
                "family": pair.family,
                "params": pair.params,
                "n": int(p.size),
                "D": D,
                "seed": args.seed,
                "engine": args.engine,
                "protocols": [
                    {
                        "protocol": proto,
                        "exact": value,
                        "estimate": mc.value,
                        "stderr": mc.stderr,
                        "ci95": [mc.ci_low, mc.ci_high],
                        "trials": mc.trials,
                        "z": (mc.value - value) / mc.stderr if mc.stderr > 0 else 0.0,
                        "seconds": secs,
                    }
                    for proto, value, mc, secs in results
                ],
                "bounds": bounds,
            }
        )
        return 0
    print(f"{pair.family} {pair.params}  n={p.size}  D_TV={D:.6f}  seed={args.seed}")
    rows = []
    for proto, value, mc, secs in results:
        z = (mc.value - value) / mc.stderr if mc.stderr > 0 else 0.0
        rows.append(
            (
                proto,
                f"{value:.6f}",
                f"{mc.value:.6f}",
                f"[{mc.ci_low:.6f}, {mc.ci_high:.6f}]",
                f"{z:+.2f}",
                f"{mc.trials:,}",
                f"{secs:.2f}",
            )
        )
    headers = ("protocol", "exact", f"MC ({args.engine})", "Wilson 95%", "z", "trials", "s")
    print(format_table(headers, rows))
    print()
    print(format_table(("bound", "value"), [(k, f"{v:.6f}") for k, v in bounds.items()]))
    return 0


def _cmd_bench(args):
    import numba

    from simulate.bench import run_benchmarks

    if args.lm:
        import torch

        from paper_repro.bench import lm_benchmarks

        if args.threads:
            torch.set_num_threads(args.threads)
        print(f"measuring {args.target} on {torch.get_num_threads()} threads...", file=sys.stderr)
        rows = lm_benchmarks(target=args.target)
    else:
        if args.threads:
            numba.set_num_threads(args.threads)
        print(
            f"measuring on {numba.get_num_threads()} threads (takes about a minute)...",
            file=sys.stderr,
        )
        rows = run_benchmarks(
            n=args.n, faithful_trials=args.faithful_trials, fast_trials=args.fast_trials
        )
    if args.json:
        print_json([r._asdict() for r in rows])
        return 0
    table = [
        (
            r.name,
            f"{r.value:,.3g} {r.unit}",
            "-" if math.isnan(r.speedup) else f"{r.speedup:,.1f}x vs {r.baseline}",
            r.target,
        )
        for r in rows
    ]
    print(format_table(("benchmark", "measured", "ratio to baseline", "target"), table))
    return 0


def _split(text):
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _sweep_spec(args):
    from simulate.sweep import SweepSpec, load_spec

    if args.spec:
        return load_spec(args.spec)
    params = {}
    for item in args.param or ():
        key, sep, values = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects KEY=V1,V2,..., got {item!r}")
        params[key] = [_family_params([f"{key}={v}"])[key] for v in values.split(",")]
    block = {
        "family": list(_split(args.family)),
        "n": [int(v) for v in _split(args.n)],
        "params": params,
        "replicates": args.replicates,
    }
    return SweepSpec(
        blocks=(block,),
        seed=args.seed,
        trials=args.trials,
        mc_protocols=_split(args.mc_protocols),
        engines=_split(args.engines),
    )


def _cmd_sweep(args):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from reports.sweep import write_sweep_outputs
    from simulate.sweep import expand_cells, run_sweep

    spec = _sweep_spec(args)
    total = len(expand_cells(spec))
    out = Path(args.out)
    store = out / "sweep.sqlite"
    t0 = time.perf_counter()
    if args.scheduler:
        from dask.distributed import Client

        client = Client(args.scheduler)
        executor = client.get_executor()
    else:
        client = None
        ctx = multiprocessing.get_context("spawn")  # numba's thread pools do not survive fork
        executor = ProcessPoolExecutor(max_workers=args.workers or None, mp_context=ctx)
    try:
        with progress_bar(total, "cells", enabled=not args.json, unit="cells") as update:
            done, total = run_sweep(spec, store, executor, batch=args.batch, progress=update)
    finally:
        executor.shutdown()
        if client is not None:
            client.close()
    seconds = time.perf_counter() - t0
    paths = write_sweep_outputs(store, spec, out)
    summary = {
        "cells": total,
        "stored": done,
        "seconds": seconds,
        "outputs": [str(p) for p in paths],
    }
    if args.json:
        print_json(summary)
    else:
        print(f"{done}/{total} cells stored in {store} ({seconds:.1f} s)")
        for p in paths:
            print(f"  wrote {p}")
    return 0


def _cmd_search(args):
    import numpy as np

    from figures.bounds import achievable_region_figure
    from outputs import atomic_write_text, save_figure
    from simulate.search import achievable_region, search

    out = Path(args.out)
    targets = [None] if args.target_d is None else [float(v) for v in _split(args.target_d)]
    results = []
    with progress_bar(
        len(targets), args.objective, enabled=not args.json, unit="searches"
    ) as update:
        for target in targets:
            r = search(args.objective, args.n, seed=args.seed, D=target, maxiter=args.maxiter)
            results.append((target, r))
            tag = "free" if target is None else f"D{target:.3f}"
            out.mkdir(parents=True, exist_ok=True)
            np.savez(out / f"best_{r.objective}_{tag}.npz", p=r.p, q=r.q)
            if update:
                update(1)
    rows = [
        (
            r.objective if len(r.objective) < 40 else r.objective[:37] + "...",
            "-" if t is None else f"{t:.3f}",
            f"{r.values['D']:.6f}",
            f"{r.value:.3e}",
            f"{r.values['gumbel']:.6f}",
            f"{r.values['wmh']:.6f}",
            f"{r.values['worst_case']:.6f}",
            f"{r.quadratic_gumbel - r.values['gumbel']:+.1e}",
            f"{r.mc['gumbel'][2]:+.2f} / {r.mc['wmh'][2]:+.2f}",
        )
        for t, r in results
    ]
    headers = ("objective", "target D", "D", "value", "gumbel", "wmh", "(1-D)/(1+D)",
               "O(n^2) - fast", "MC z (gumbel / wmh)")  # fmt: skip
    atomic_write_text(out / "search.md", format_table(headers, rows, markdown=True) + "\n")
    if args.region:
        env = achievable_region(args.n, args.region, seed=args.seed, maxiter=args.maxiter)
        fig = achievable_region_figure(env)
        save_figure(
            fig, out / "achievable_region", {"n": args.n, "seed": args.seed, "envelope": env}
        )
    if args.json:
        print_json([
            {"objective": r.objective, "target_D": t, "value": r.value, "values": r.values,
             "quadratic_gumbel": r.quadratic_gumbel, "mc": r.mc,
             "p": r.p.tolist(), "q": r.q.tolist()}
            for t, r in results
        ])  # fmt: skip
    else:
        print(format_table(headers, rows))
        print(f"best pairs (.npz) and search.md in {out}")
    return 0


def _cmd_prove(args):
    from proofs import CLAIMS
    from reports.proofs import prove

    names = args.claim.split(",") if args.claim else None
    with progress_bar(len(names or CLAIMS), "prove", enabled=not args.json,
                      unit="claims") as update:  # fmt: skip
        certs, figures = prove(names, full=args.full, out_dir=args.out, progress=update)
    if args.json:
        print_json([c.as_dict() for c in certs])
    else:
        rows = [[c.claim, c.method, c.verdict + (f" on {c.cases} cases" if c.cases else ""),
                 f"{c.seconds:.1f}", c.path] for c in certs]  # fmt: skip
        print(format_table(["claim", "method", "verdict", "seconds", "certificate"], rows))
        for path in figures:
            if path.suffix in (".png", ".md"):
                print(path)
    return 0 if all(c.verdict in ("proved", "verified") for c in certs) else 1


def build_parser():
    parser = argparse.ArgumentParser(
        prog="coupling",
        description="Communication-free coupling and drafter-invariant speculative decoding.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="exact and Monte Carlo Pr[a=b] on a distribution pair")
    sim.add_argument(
        "--family", default="dirichlet", help="distribution family (default dirichlet)"
    )
    sim.add_argument("--n", type=int, default=1000, help="number of items (default 1000)")
    sim.add_argument("--param", action="append", metavar="KEY=VALUE", help="family parameter")
    sim.add_argument("--npz", help="load p and q from an .npz file instead of a family")
    sim.add_argument("--trials", type=int, default=1_000_000, help="Monte Carlo trials")
    sim.add_argument("--protocols", default="gumbel,wmh,optimal,independent")
    sim.add_argument("--engine", default="fast", help="fast or faithful (default fast)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--threads", type=int, default=0, help="numba threads (default: all)")
    sim.add_argument("--json", action="store_true", help="machine-readable output")
    sim.set_defaults(func=_cmd_simulate)

    bench = sub.add_parser("bench", help="throughput of the engines against their baselines")
    bench.add_argument("--n", type=int, default=50_000)
    bench.add_argument("--faithful-trials", type=int, default=2_000)
    bench.add_argument("--fast-trials", type=int, default=10_000_000)
    bench.add_argument("--threads", type=int, default=0)
    bench.add_argument("--json", action="store_true")
    bench.add_argument(
        "--lm",
        action="store_true",
        help="the language-model costs instead: step, verify pass, randomness per position",
    )
    bench.add_argument("--target", default="smollm2", help="with --lm: smollm2 or an HF path/id")
    bench.set_defaults(func=_cmd_bench)

    sweep = sub.add_parser("sweep", help="a grid of pairs: exact values and Monte Carlo, resumable")
    sweep.add_argument("--spec", help="TOML sweep file (else the flags below)")
    sweep.add_argument("--family", default="dirichlet", help="comma-separated families")
    sweep.add_argument("--n", default="1000", help="comma-separated sizes")
    sweep.add_argument(
        "--param", action="append", metavar="KEY=V1,V2", help="family parameter values"
    )
    sweep.add_argument("--replicates", type=int, default=10, help="pairs per grid point")
    sweep.add_argument("--trials", type=int, default=100_000)
    sweep.add_argument("--mc-protocols", default="gumbel,wmh")
    sweep.add_argument("--engines", default="fast")
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--out", default="results/sweep", help="output directory (resumes there)")
    sweep.add_argument("--workers", type=int, default=0, help="local processes (default: cores)")
    sweep.add_argument(
        "--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786"
    )
    sweep.add_argument("--batch", type=int, default=20, help="cells per task")
    sweep.add_argument("--json", action="store_true")
    sweep.set_defaults(func=_cmd_sweep)

    srch = sub.add_parser("search", help="adversarial search for pairs that stress the bounds")
    srch.add_argument("--objective", default="pareto-min",
                      help="pareto-min, pareto-max, gumbel-ratio, gumbel-vs-worst-case, "
                      "bound-gap-min, bound-gap-max, or an expression over D, gumbel, wmh, "
                      "optimal, worst_case, lower_bound, independent "
                      "(prefix max: to maximise)")  # fmt: skip
    srch.add_argument("--n", type=int, default=8)
    srch.add_argument("--target-d", help="comma-separated target distances (default: free)")
    srch.add_argument("--maxiter", type=int, default=200, help="differential-evolution generations")
    srch.add_argument(
        "--region", type=int, default=0, help="also map the achievable region at K distances"
    )
    srch.add_argument("--seed", type=int, default=0)
    srch.add_argument("--out", default="results/search")
    srch.add_argument("--json", action="store_true")
    srch.set_defaults(func=_cmd_search)
    prove = sub.add_parser("prove", help="run the theorem certificates (proofs/)")
    prove.add_argument("--claim", help="comma-separated claim names (default: all)")
    prove.add_argument("--full", action="store_true", help="the slow, larger instances too")
    prove.add_argument("--out", default="results/proofs", help="certificate directory")
    prove.add_argument("--json", action="store_true")
    prove.set_defaults(func=_cmd_prove)
    add_parsers(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, RuntimeError) as exc:
        print(f"coupling {args.command}: error: {exc}", file=sys.stderr)
        return 2
