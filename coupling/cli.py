"""``coupling``: one command, one subcommand per job.

Every command checks what it was given before it works: a mistake (a bad flag value, an
unreadable input file, an output directory it cannot write to) ends it with one line,
``coupling <command>: error: <what is wrong>``, and exit status 2; Ctrl-C ends it with status
130. Any other exception is a bug and shows its traceback.
"""

import argparse
import math
import os
import sys
import time
from pathlib import Path

from coupling._args import (
    SEED_MAX,
    family_params,
    holds_out,
    name_list,
    split,
    thread_count,
)
from coupling._lm import set_threads
from coupling._output import CommandError, print_json, progress_bar, user_input
from coupling.cli_lm import add_parsers
from coupling.cli_sweep import cmd_sweep
from coupling.outputs import format_table

# Work (trials, or trials x items for the faithful engine) that takes a few seconds here.
_PROGRESS_WORK = {"fast": 20_000_000, "faithful": 2_000_000_000}
# Items from which the set-up (the exact list coupling's quadrature, O(n) a node; the engines'
# O(n log n) tables) takes a second or more.
_PROGRESS_ITEMS = 100_000


def _cmd_simulate(args):
    import numba

    from coupling.simulate import estimate, exact
    from coupling.simulate.families import check_params, from_npz, make_pair
    from coupling.simulate.montecarlo import ENGINES, KEY_SPACE, run_memory, z_score
    from coupling.simulate.multidraft import MAX_DRAFTS, list_matching_probability
    from coupling.simulate.validation import as_choice, as_count, check_memory

    protocols = name_list(args.protocols, "--protocols", exact.PROTOCOLS + exact.LIST_PROTOCOLS)
    lists = [proto for proto in protocols if proto in exact.LIST_PROTOCOLS]
    if lists and args.drafts is None:
        raise CommandError(f"--protocols {lists[0]} needs --drafts K, the number of drafts")
    if args.drafts is not None and not lists:
        raise CommandError(f"--drafts applies to --protocols {', '.join(exact.LIST_PROTOCOLS)}")
    threads = thread_count(args.threads)
    if args.normalize and not args.npz:
        raise CommandError("--normalize rescales the arrays of --npz; families are normalised")
    with user_input():
        as_choice(args.engine, "engine", ENGINES)
        if lists:
            drafts = as_count(args.drafts, "--drafts", maximum=MAX_DRAFTS)
        trials = as_count(args.trials, "--trials", maximum=KEY_SPACE)
        seed = as_count(args.seed, "--seed", minimum=0, maximum=SEED_MAX)
        if args.npz:
            try:
                pair = from_npz(args.npz, normalize=args.normalize)
            except ValueError as exc:  # the library's advice, in the command's words
                advice = str(exc).replace("pass normalize=True", "pass --normalize")
                raise ValueError(advice) from None
            n = pair.p.size
        else:
            params = family_params(args.param)
            n = check_params(args.family, args.n, **params)["n"]
        check_memory(run_memory(n), f"a run on n = {n:,} items")
    if not args.npz:
        pair = make_pair(args.family, n, seed=seed, **params)
    if threads:
        numba.set_num_threads(threads)
    p, q, D = pair.p, pair.q, pair.D
    results = []
    for proto in protocols:
        # gls: K races of n clocks per faithful trial; the others, one
        k = {"drafts": drafts} if proto in exact.LIST_PROTOCOLS else {}
        work = trials * (p.size * k.get("drafts", 1) if args.engine == "faithful" else 1)
        large = not args.json and p.size >= _PROGRESS_ITEMS
        show = large or (not args.json and work >= _PROGRESS_WORK[args.engine])
        if k:  # the list coupling's quadrature: O(n) a node, a minute at n = 10^7
            with progress_bar(None, f"{proto} exact", enabled=large, unit="nodes") as update:
                value = list_matching_probability(p, q, drafts, progress=update)
        else:
            value = exact.collision_probability(p, q, proto)
        t0 = time.perf_counter()
        with progress_bar(trials, proto, enabled=show) as update:
            mc = estimate(p, q, proto, trials, seed=seed, engine=args.engine, progress=update, **k)
        z = z_score(mc.value, value, mc.trials)
        results.append((proto, value, mc, z, time.perf_counter() - t0))
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
                "seed": seed,
                "engine": args.engine,
                "drafts": args.drafts,
                "protocols": [
                    {
                        "protocol": proto,
                        "exact": value,
                        "estimate": mc.value,
                        "stderr": mc.stderr,
                        "ci95": [mc.ci_low, mc.ci_high],
                        "trials": mc.trials,
                        "z": z,
                        "seconds": secs,
                    }
                    for proto, value, mc, z, secs in results
                ],
                "bounds": bounds,
            }
        )
        return 0
    print(f"{pair.family} {pair.params}  n={p.size}  D_TV={D:.6f}  seed={seed}")
    rows = [
        (
            f"{proto} (K = {args.drafts})" if proto in exact.LIST_PROTOCOLS else proto,
            f"{value:.6f}",
            f"{mc.value:.6f}",
            f"[{mc.ci_low:.6f}, {mc.ci_high:.6f}]",
            f"{z:+.2f}",
            f"{mc.trials:,}",
            f"{secs:.2f}",
        )
        for proto, value, mc, z, secs in results
    ]
    headers = ("protocol", "exact", f"MC ({args.engine})", "Wilson 95%", "z", "trials", "s")
    print(format_table(headers, rows))
    print("z: (MC - exact) / sqrt(exact (1 - exact) / trials)")
    print()
    print(format_table(("bound", "value"), [(k, f"{v:.6f}") for k, v in bounds.items()]))
    return 0


def _cmd_bench(args):
    import numba

    from coupling.simulate.bench import run_benchmarks
    from coupling.simulate.validation import as_count

    with user_input():
        for flag, value in (("--n", args.n), ("--faithful-trials", args.faithful_trials),
                            ("--fast-trials", args.fast_trials)):  # fmt: skip
            as_count(value, flag)
    threads = thread_count(args.threads)
    if args.lm:
        import torch

        from coupling.paper_repro.bench import lm_benchmarks
        from coupling.paper_repro.bench_engine import anchor_rows, load_rows
        from coupling.paper_repro.model import DEFAULT_TARGET

        target = args.target
        if not target.strip() or ((os.sep in target or target.startswith(".")) and
                                   not Path(target).exists()):  # fmt: skip
            raise CommandError(f"--target {target!r}: no such model directory")
        set_threads(threads)  # torch's and numba's pools, numba's first
        print(f"measuring {target} on {torch.get_num_threads()} threads...", file=sys.stderr)
        rows = lm_benchmarks(target=target)
        print("the same verify pass idle and beside a busy process...", file=sys.stderr)
        rows += load_rows(target)
        if target == DEFAULT_TARGET:  # the anchor drafter is built from the default target
            print("the engine against transformers' generate...", file=sys.stderr)
            rows += anchor_rows(target)
    else:
        if threads:
            numba.set_num_threads(threads)
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


def _npz_bytes(p, q):
    import io

    import numpy as np

    buf = io.BytesIO()
    np.savez(buf, p=p, q=q)
    return buf.getvalue()


@holds_out
def _cmd_search(args, out_dir):
    from coupling.figures.bounds import achievable_region_figure
    from coupling.outputs import atomic_write_bytes, atomic_write_text, safe_name, save_figure
    from coupling.simulate.search import (
        MAX_REGION_POINTS,
        UndefinedObjective,
        achievable_region,
        compile_objective,
        search,
        search_memory,
    )
    from coupling.simulate.validation import as_count, as_real, check_memory

    with user_input():
        n = as_count(args.n, "--n")
        maxiter = as_count(args.maxiter, "--maxiter")
        region = as_count(args.region, "--region", minimum=0, maximum=MAX_REGION_POINTS)
        seed = as_count(args.seed, "--seed", minimum=0, maximum=SEED_MAX)
        compile_objective(args.objective)
        targets = [None]
        if args.target_d is not None:
            try:
                targets = [as_real(float(v), "--target-d", 0.0, 1.0) for v in split(args.target_d)]
            except ValueError as exc:
                raise ValueError(f"--target-d expects distances in [0, 1]: {exc}") from None
            if not targets:
                raise ValueError("--target-d is empty")
        check_memory(search_memory(n), f"a search over pairs of n = {n:,} items")
    out = out_dir.start()
    stem = safe_name(args.objective)
    results = []
    with progress_bar(len(targets), args.objective, enabled=not args.json,
                      unit="searches") as update:  # fmt: skip
        for target in targets:
            with user_input(UndefinedObjective):
                r = search(args.objective, n, seed=seed, D=target, maxiter=maxiter)
            results.append((target, r))
            tag = "free" if target is None else f"D{target:.3f}"
            atomic_write_bytes(out / f"best_{stem}_{tag}.npz", _npz_bytes(r.p, r.q))
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
    atomic_write_text(out / f"search_{stem}.md", format_table(headers, rows, markdown=True) + "\n")
    if region:
        searches = region * 2  # the Gumbel and the WMH envelopes
        with progress_bar(searches, "region", enabled=not args.json, unit="searches") as update:
            env = achievable_region(n, region, seed=seed, maxiter=maxiter, progress=update)
        fig = achievable_region_figure(env)
        save_figure(fig, out / "achievable_region", {"n": n, "seed": seed, "envelope": env})
    if args.json:
        print_json([
            {"objective": r.objective, "target_D": t, "value": r.value, "values": r.values,
             "quadratic_gumbel": r.quadratic_gumbel, "mc": r.mc,
             "p": r.p.tolist(), "q": r.q.tolist()}
            for t, r in results
        ])  # fmt: skip
    else:
        print(format_table(headers, rows))
        print(f"best pairs (best_{stem}_*.npz) and search_{stem}.md in {out}")
    return 0


def _extraction_options(args, names):
    """``--delta``/``--eps`` as the optimality claim's options, checked before any claim
    runs (range, and an n the exact sums reach); refused unless the run includes it."""
    if args.delta is None and args.eps is None:
        return None
    if names is not None and "optimality" not in names:
        flag = "--delta" if args.delta is not None else "--eps"
        raise CommandError(f"{flag} applies to the optimality claim; add it to --claim")
    from coupling.proofs.optimality import DEFAULT_DELTAS, DEFAULT_EPS
    from coupling.proofs.optimality_extract import plan_extraction

    with user_input():
        deltas = DEFAULT_DELTAS if args.delta is None else (args.delta,)
        eps = DEFAULT_EPS if args.eps is None else args.eps
        checked = [plan_extraction(d, eps, names=("--delta", "--eps")) for d in deltas]
    return {"optimality": {"deltas": tuple(c[0] for c in checked), "eps": checked[0][1]}}


@holds_out
def _cmd_prove(args, out_dir):
    from coupling.proofs import CLAIMS
    from coupling.reports.proofs import prove
    from coupling.reports.report_proofs import optimality_lines

    names = None
    if args.claim is not None:
        names = list(name_list(args.claim, "--claim", tuple(CLAIMS)))
    options = _extraction_options(args, names)
    out = out_dir.start()
    with progress_bar(len(names or CLAIMS), "prove", enabled=not args.json,
                      unit="claims") as update:  # fmt: skip
        certs, figures = prove(names, full=args.full, out_dir=out, progress=update,
                               options=options)  # fmt: skip
    if args.json:
        print_json([c.as_dict() for c in certs])
    else:
        rows = [[c.claim, c.method, c.verdict + (f" on {c.cases} cases" if c.cases else ""),
                 f"{c.seconds:.1f}", c.path] for c in certs]  # fmt: skip
        print(format_table(["claim", "method", "verdict", "seconds", "certificate"], rows))
        for cert in certs:
            for line in optimality_lines(cert):
                print(line)
        for path in figures:
            if path.suffix in (".png", ".md"):
                print(path)
    return 0 if all(c.verdict in ("proved", "verified") for c in certs) else 1


def build_parser():
    """The ``coupling`` argument parser with every subcommand."""
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
    sim.add_argument(
        "--normalize", action="store_true", help="with --npz: rescale p and q to sum to 1"
    )
    sim.add_argument("--trials", type=int, default=1_000_000, help="Monte Carlo trials")
    sim.add_argument("--protocols", default="gumbel,wmh,optimal,independent",
                     help="comma-separated: gumbel, wmh, wmh-darts, optimal, independent, gls "
                     "(default gumbel,wmh,optimal,independent)")  # fmt: skip
    sim.add_argument("--drafts", type=int, metavar="K",
                     help="drafts of the list coupling (needed by, and only for, gls)")  # fmt: skip
    sim.add_argument("--engine", default="fast", help="fast or faithful (default fast)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--threads", type=int, default=0, help="numba threads (default: all)")
    sim.add_argument("--json", action="store_true", help="machine-readable output")
    sim.set_defaults(func=_cmd_simulate)

    bench = sub.add_parser("bench", help="throughput of the engines against their baselines")
    bench.add_argument("--n", type=int, default=50_000)
    bench.add_argument("--faithful-trials", type=int, default=2_000)
    bench.add_argument("--fast-trials", type=int, default=10_000_000)
    bench.add_argument("--threads", type=int, default=0,
                       help="numba threads (with --lm: torch threads); default: all cores")
    bench.add_argument("--json", action="store_true")
    bench.add_argument(
        "--lm",
        action="store_true",
        help="the language-model costs instead: step, verify pass, randomness per position, "
        "the verify pass beside a busy process, and the engine against transformers' generate "
        "(a few minutes)",
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
    sweep.set_defaults(func=cmd_sweep)

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
        "--region", type=int, default=0, metavar="K",
        help="also map the achievable region at K distances in [0.05, 0.95]",
    )  # fmt: skip
    srch.add_argument("--seed", type=int, default=0)
    srch.add_argument("--out", default="results/search")
    srch.add_argument("--json", action="store_true")
    srch.set_defaults(func=_cmd_search)
    prove = sub.add_parser("prove", help="run the theorem certificates (proofs/)")
    prove.add_argument("--claim", help="comma-separated claim names (default: all)")
    prove.add_argument("--full", action="store_true", help="the slow, larger instances too")
    prove.add_argument(
        "--delta",
        help="optimality: certify one pair at TV <= DELTA, 0 < DELTA < 1 (exact, e.g. 0.3 or "
        "3/10; default: the grid 0.1, ..., 0.9)",
    )
    prove.add_argument(
        "--eps",
        help="optimality: the pair's agreement is at most (1-DELTA)/(1+DELTA) + EPS, "
        "1/100 <= EPS < 1 (default 1/20)",
    )
    prove.add_argument("--out", default="results/proofs", help="certificate directory")
    prove.add_argument("--json", action="store_true")
    prove.set_defaults(func=_cmd_prove)
    add_parsers(sub)
    return parser


def main(argv=None):
    """Run ``coupling`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Before any command loads torch, OpenMP's threads are told to wait passively after a short
    spin (:data:`coupling.simulate.validation.OPENMP_ENV`, unless the user chose a policy):
    spinning waiters starve each other as soon as another process is busy, which made a
    verify pass of the default model up to 38 times slower on 2 cores."""
    from coupling.simulate.validation import apply_openmp_policy

    apply_openmp_policy()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"coupling {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"coupling {args.command}: interrupted", file=sys.stderr)
        return 130
