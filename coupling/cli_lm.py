"""Language-model subcommands: drafters, distill, repro, reproduce (and decode, from
:mod:`coupling.cli_decode`)."""

import shlex
import sys
import time

from coupling._args import results_dir, seed_value, thread_count
from coupling._lm import load_target, model_args, notify, set_threads
from coupling._output import print_json, progress_bar, user_input
from coupling.cli_decode import add_decode_parser
from coupling.outputs import format_table

__all__ = ["PRESETS", "add_parsers"]

#: Settings of ``repro``/``reproduce`` that ``--preset`` fills and explicit flags override.
PRESETS = {
    "default": {"target": "smollm2", "dtype": "float32", "device": "cpu", "drafters": None,
                "templates": "raw,chat", "tokens": 32, "mc_trials": 20_000},
    # The authors' configuration: Gemma-2 27B target, 9B and 2B drafters, bfloat16, raw
    # prompts, 32 tokens, 20,000 trials per position; the 27B model spread over the GPUs.
    "gemma2": {"target": "google/gemma-2-27b-it", "dtype": "bfloat16", "device": "auto",
               "drafters": "hf:google/gemma-2-9b-it,hf:google/gemma-2-2b-it",
               "templates": "raw", "tokens": 32, "mc_trials": 20_000},
}  # fmt: skip
_POSITIVE = ("tokens", "mc_trials", "sd_seeds", "be_seeds", "be_tokens")


def _cmd_drafters(args):
    from coupling.paper_repro.drafter_tv import cached_tv, measured_tv
    from coupling.paper_repro.drafters import DEFAULT_DRAFTERS, DRAFTERS, drafter_names

    thread_count(args.threads)  # refused even where --no-measure leaves it unused
    names = drafter_names()
    if args.no_measure:
        tv = cached_tv(args.target, args.dtype, list(DRAFTERS))
    else:
        set_threads(args.threads)
        if not all(v is not None for v in cached_tv(args.target, args.dtype, DRAFTERS).values()):
            notify("measuring each drafter's mean D_TV once (cached afterwards)")
        tv = measured_tv(args.target, args.dtype, list(DRAFTERS), lambda: load_target(args))
    rows = [{"name": k, "mean_tv": tv.get(k), "default": k in DEFAULT_DRAFTERS,
             "description": v} for k, v in names.items()]  # fmt: skip
    if args.json:
        print_json(rows)
    else:
        table = [[r["name"], "-" if r["mean_tv"] is None else f"{r['mean_tv']:.3f}",
                  "yes" if r["default"] else "", r["description"]] for r in rows]  # fmt: skip
        print(format_table(["drafter", "mean D_TV", "default", "description"], table))
        print("mean D_TV: 3 prompts x 32 positions of the target's own samples "
              "(cached in the user cache)")  # fmt: skip
    return 0


def _check_chunk(seq_len, config):
    """Refuse distillation chunks longer than the target's context."""
    from coupling.decoding.limits import context_limit

    limit = context_limit(config)
    if limit is not None and seq_len > limit:
        raise ValueError(f"--seq-len {seq_len:,} is beyond the target's context of {limit:,} "
                         "positions (max_position_embeddings in its config)")  # fmt: skip


def _cmd_distill(args):
    from coupling.paper_repro.distill import DistillConfig, train_adapters
    from coupling.paper_repro.exits import ADAPTER_DIR

    with user_input():
        try:
            depths = tuple(int(d) for d in args.depths.split(","))
        except ValueError:
            raise ValueError(
                f"--depths must be comma-separated ints, got {args.depths!r}"
            ) from None
        if args.seed is not None:
            seed_value(args.seed)
        given = {"steps": args.steps, "batch": args.batch, "seq_len": args.seq_len,
                 "lr": args.lr, "seed": args.seed}  # fmt: skip
        cfg = DistillConfig(depths=depths, **{k: v for k, v in given.items() if v is not None})
    set_threads(args.threads)
    loaded = load_target(args)
    with user_input():
        cfg.check_depths(loaded.model.config.num_hidden_layers)
        _check_chunk(cfg.seq_len, loaded.model.config)
    command = "coupling distill " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    start = time.perf_counter()
    with progress_bar(cfg.steps, "distill", unit="steps") as update:

        def progress(step, losses):
            if update is not None:
                update(1)

        report = train_adapters(loaded, cfg, args.out or ADAPTER_DIR, command=command,
                                progress=progress)  # fmt: skip
    rows = [[d, f"{m['tv_before']:.3f}", f"{m['tv_after']:.3f}", f"{m['final_kl']:.3f}"]
            for d, m in report.items()]  # fmt: skip
    if args.json:
        print_json(list(report.values()))
    else:
        print(format_table(["depth", "D_TV before", "D_TV after", "final KL"], rows))
        print(f"{time.perf_counter() - start:.0f} s; adapters in {args.out or ADAPTER_DIR}")
    return 0


def _split(text):
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _resolve(args):
    """Fill the preset's settings into ``args`` where no flag was given; check every setting
    that can be checked before any model work; returns the ReproConfig."""
    from coupling.paper_repro.drafters import DEFAULT_DRAFTERS
    from coupling.paper_repro.experiments import BE_DRAFTERS, ReproConfig
    from coupling.paper_repro.model import DEFAULT_TARGET

    thread_count(args.threads)
    seed_value(args.seed)
    preset = PRESETS[args.preset]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in _POSITIVE:
        value = getattr(args, key)
        if value is not None and value < 1:
            raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    drafters = _split(args.drafters) if args.drafters else None
    if args.drafters is not None and not drafters:
        raise ValueError("--drafters is empty")
    if args.target != DEFAULT_TARGET and drafters is None:
        raise ValueError(
            f"--target {args.target}: name its drafters with --drafters (the named drafters "
            "are built from the default target's layers and were chosen for it)"
        )
    int8_ok = args.device == "cpu" and args.dtype == "float32"  # torch's int8 kernels
    if drafters and "int8" in drafters and not int8_ok:
        raise ValueError(
            "drafter 'int8' needs --device cpu --dtype float32 (torch's dynamic int8 kernels), "
            f"got --device {args.device} --dtype {args.dtype}"
        )
    fields = {k: getattr(args, k) for k in _POSITIVE if getattr(args, k) is not None}
    if drafters:
        fields |= {"drafters": drafters, "be_drafters": drafters}
    elif args.target == DEFAULT_TARGET:
        fields["be_drafters"] = BE_DRAFTERS
        if not int8_ok:
            fields["drafters"] = tuple(d for d in DEFAULT_DRAFTERS if d != "int8")
    return ReproConfig(target=args.target, dtype=args.dtype, seed=args.seed,
                       templates=_split(args.templates), **fields)  # fmt: skip


def _bar(name, total):
    return progress_bar(total, f"reproduce {name}", unit="units")


def _start(out_dir, cfg, lm_dir, names):
    """The work starts: create and lock ``--out``, and check the stored units once more (on a
    new ``--out`` another run may have stored some while this one loaded its model)."""
    from coupling.reports.repro import check_settings

    out_dir.start()
    with user_input():
        check_settings(cfg, lm_dir, names)


def _cmd_repro(args):
    from coupling.paper_repro.experiments import EXPERIMENTS, unit_count
    from coupling.reports.repro import check_settings, run_repro

    names = EXPERIMENTS if args.experiment == "all" else (args.experiment,)
    with user_input():
        cfg = _resolve(args)
    with results_dir(args.out) as out_dir:
        with user_input():
            check_settings(cfg, out_dir.path, names)
        set_threads(args.threads)
        loaded = load_target(args)
        _start(out_dir, cfg, out_dir.path, names)

        def bar(name):
            return progress_bar(unit_count(name, cfg), f"repro {name}", unit="units")

        _, written = run_repro(loaded, cfg, out_dir.path, names, progress=bar)
    for path in written:
        if str(path).endswith(".md"):
            print(path)
    return 0


def _cmd_reproduce(args):
    """The main job: every experiment, figure and table, and REPORT.md."""
    from coupling.paper_repro.experiments import EXPERIMENTS
    from coupling.reports.repro import check_settings
    from coupling.reports.reproduce import PART_DIRS, reproduce

    with user_input():
        cfg = _resolve(args)
    # its parts' directories too, which `coupling repro`, `prove` or `sweep` may be given
    with results_dir(args.out, subdirs=PART_DIRS) as out_dir:
        lm_dir = out_dir.path / "repro"
        with user_input():
            check_settings(cfg, lm_dir, EXPERIMENTS)
        set_threads(args.threads)
        command = "coupling reproduce " + " ".join(shlex.quote(a) for a in sys.argv[2:])
        start, cpu = time.perf_counter(), time.process_time()

        def load_and_start():
            loaded = load_target(args)
            _start(out_dir, cfg, lm_dir, EXPERIMENTS)
            return loaded

        _, written = reproduce(load_and_start, cfg, out_dir.path, progress=_bar,
                               command=command.strip())  # fmt: skip
    for path in written:
        if str(path).endswith((".md", ".png")):
            print(path)
    print(f"{time.perf_counter() - start:.0f} s wall, {time.process_time() - cpu:.0f} s CPU; "
          f"report: {written[-1]}")  # fmt: skip
    return 0


def _repro_args(p, out):
    p.add_argument("--out", default=out, help=f"output directory (resumes there; default {out})")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="gemma2: the authors' configuration (Gemma-2 27B target, 9B and "
                   "2B drafters, bfloat16, raw prompts, --device auto); flags override "
                   "it")  # fmt: skip
    p.add_argument("--drafters", help="comma-separated drafter names or hf:PATH "
                   "(default: the named drafters of `coupling drafters`)")  # fmt: skip
    p.add_argument("--templates", help="raw, chat or raw,chat (default raw,chat)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, help="tokens per sequence (default 32)")
    p.add_argument("--mc-trials", type=int, help="Monte Carlo trials per position (20,000)")
    p.add_argument("--be-seeds", type=int, help="paths per prompt and coupling in experiment 2")
    p.add_argument("--be-tokens", type=int, help="their length in tokens")
    p.add_argument("--sd-seeds", type=int, help="real SD runs per prompt and drafter")
    p.add_argument("--target", help="target model: smollm2 (default) or an HF path/id")
    p.add_argument("--dtype", help="float32 (default), bfloat16, float16, float64")
    p.add_argument("--device", help="cpu (default), cuda, ..., or auto (every visible GPU)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch and numba threads (default: the cores free now)")  # fmt: skip


def add_parsers(sub):
    """Add the language-model commands (decode, drafters, distill, repro, reproduce, ...)."""
    add_decode_parser(sub)
    dr = sub.add_parser("drafters", help="list the drafters with their measured mean D_TV")
    dr.add_argument("--no-measure", action="store_true",
                    help="list cached measurements only (no model load)")  # fmt: skip
    dr.add_argument("--json", action="store_true")
    model_args(dr)
    dr.set_defaults(func=_cmd_drafters)

    dis = sub.add_parser("distill", help="train early-exit adapters against the target")
    dis.add_argument("--depths", default="8,16")
    for flag, kind, what in (("--steps", int, "optimiser steps"),
                             ("--batch", int, "chunks per step"),
                             ("--seq-len", int, "tokens per chunk"),
                             ("--lr", float, "peak learning rate"),
                             ("--seed", int, "data order seed")):  # fmt: skip
        field = flag[2:].replace("-", "_")
        dis.add_argument(flag, type=kind, help=f"{what} (default: DistillConfig.{field})")
    dis.add_argument("--out", help="adapter directory (default: the package's adapters/)")
    dis.add_argument("--json", action="store_true")
    model_args(dis)
    dis.set_defaults(func=_cmd_distill)

    rep = sub.add_parser("repro", help="the paper's language-model experiments (results/repro)")
    rep.add_argument(
        "experiment", nargs="?", default="all", choices=("coupling", "sd", "invariance", "all")
    )
    _repro_args(rep, "results/repro")
    rep.set_defaults(func=_cmd_repro)

    full = sub.add_parser("reproduce", help="the main job: all experiments, figures and tables, "
                          "and results/REPORT.md")  # fmt: skip
    _repro_args(full, "results")
    full.set_defaults(func=_cmd_reproduce)
