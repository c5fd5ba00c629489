"""Language-model subcommands: decode, drafters, distill, repro."""

import shlex
import sys
import time

from coupling._output import CommandError, print_json, progress_bar, user_input
from outputs import format_table

__all__ = ["add_parsers"]

METHODS = ("autoregressive", "sd", "disd-gumbel", "disd-wmh")


def _notify(message):
    print(f"coupling: {message}", file=sys.stderr)


def _threads(n):
    import torch

    if n:
        torch.set_num_threads(n)


def _load_target(args):
    from paper_repro.model import load_model

    # load_model's errors are about the model asked for (a name, a path, a dtype, a download)
    with user_input(ValueError, TypeError, RuntimeError):
        return load_model(args.target, dtype=args.dtype, device=args.device, notify=_notify)


def _sampling(args):
    from paper_repro.sampling import SamplingConfig

    return SamplingConfig(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                          greedy=args.greedy)  # fmt: skip


def _check_decode_args(args):
    if not args.prompt or not args.prompt.strip():
        raise CommandError("--prompt is empty")
    if args.method not in METHODS:
        raise CommandError(f"--method must be one of {METHODS}, got {args.method!r}")
    if args.gamma < 1:
        raise CommandError(f"--gamma must be >= 1, got {args.gamma}")
    if args.max_new_tokens < 1:
        raise CommandError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    if args.method != "autoregressive" and not args.drafter:
        raise CommandError(f"--method {args.method} needs --drafter NAME (see `coupling drafters`)")
    return _sampling(args)


def _cmd_decode(args):
    from paper_repro.decoders import autoregressive, disd, standard_sd
    from paper_repro.drafters import make_drafter
    from paper_repro.lm import CachedLM
    from paper_repro.model import encode_prompt

    with user_input():  # the checks above and SamplingConfig's
        sampling = _check_decode_args(args)
    _threads(args.threads)
    loaded = _load_target(args)
    drafter = None
    if args.method != "autoregressive":
        with user_input():
            drafter = make_drafter(args.drafter, loaded, dtype=args.drafter_dtype)
    prompt = encode_prompt(loaded.tokenizer, args.prompt, chat=args.chat)
    target = CachedLM(loaded.model)
    common = {"seed": args.seed, "max_new_tokens": args.max_new_tokens, "sampling": sampling}
    if args.method == "autoregressive":
        result = autoregressive(target, prompt, coupling=args.coupling, **common)
    elif args.method == "sd":
        result = standard_sd(target, drafter, prompt, gamma=args.gamma, **common)
    else:
        result = disd(target, drafter, prompt, gamma=args.gamma,
                      coupling=args.method.split("-")[1], **common)  # fmt: skip
    text = loaded.tokenizer.decode(result.tokens)
    stats = result.stats.as_dict() | {"load_seconds": loaded.seconds}
    if args.json:
        print_json({"method": args.method, "drafter": args.drafter, "gamma": args.gamma,
                    "seed": args.seed, "prompt_tokens": len(prompt), "token_ids": result.tokens,
                    "text": text, "stats": stats})  # fmt: skip
    else:
        print(text)
        print(f"[{args.method}] {stats['tokens']} tokens, {stats['target_calls']} target calls, "
              f"{stats['accepted']}/{stats['drafted']} drafts accepted, "
              f"{stats['seconds']:.2f} s", file=sys.stderr)  # fmt: skip
    return 0


def _cmd_drafters(args):
    from paper_repro.drafters import drafter_names

    names = drafter_names()
    if args.json:
        print_json([{"name": k, "description": v} for k, v in names.items()])
    else:
        print(format_table(["drafter", "description"], list(names.items())))
    return 0


def _cmd_distill(args):
    from paper_repro.distill import DistillConfig, train_adapters
    from paper_repro.exits import ADAPTER_DIR

    with user_input():
        depths = tuple(int(d) for d in args.depths.split(","))
        given = {"steps": args.steps, "batch": args.batch, "seq_len": args.seq_len,
                 "lr": args.lr, "seed": args.seed}  # fmt: skip
        cfg = DistillConfig(depths=depths, **{k: v for k, v in given.items() if v is not None})
    _threads(args.threads)
    loaded = _load_target(args)
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


def run_experiments(args, names):
    """Run the named experiments (resuming from ``args.out``) with a progress bar each."""
    from paper_repro import experiments as ex
    from reports.repro import run_repro

    with user_input():
        cfg = ex.ReproConfig(seed=args.seed, tokens=args.tokens, mc_trials=args.mc_trials,
                             sd_seeds=tuple(range(args.sd_seeds)))  # fmt: skip
    _threads(args.threads)
    loaded = _load_target(args)

    def bar(name):
        return progress_bar(ex.unit_count(name, cfg), f"repro {name}", unit="units")

    return run_repro(loaded, cfg, args.out, names, progress=bar)


def _cmd_repro(args):
    from paper_repro.experiments import EXPERIMENTS

    names = EXPERIMENTS if args.experiment == "all" else (args.experiment,)
    _, written = run_experiments(args, names)
    for path in written:
        if str(path).endswith(".md"):
            print(path)
    return 0


def _cmd_reproduce(args):
    """The main job: every language-model experiment with its tables and figures."""
    from paper_repro.experiments import EXPERIMENTS

    _, written = run_experiments(args, EXPERIMENTS)
    for path in written:
        if str(path).endswith((".md", ".png")):
            print(path)
    return 0


def _repro_args(p):
    p.add_argument("--out", default="results/repro", help="output directory (resumes there)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tokens", type=int, default=32, help="tokens per sequence")
    p.add_argument("--mc-trials", type=int, default=20_000)
    p.add_argument("--sd-seeds", type=int, default=2, help="seeds per prompt in experiment 2")


def _model_args(p):
    p.add_argument("--target", default="smollm2", help="target model: smollm2 or an HF path/id")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16, float16, float64")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")


def add_parsers(sub):
    dec = sub.add_parser("decode", help="generate with autoregressive, SD or DISD decoding")
    dec.add_argument("--prompt", required=True)
    dec.add_argument("--method", default="disd-gumbel", help=", ".join(METHODS))
    dec.add_argument("--drafter", help="drafter name (see `coupling drafters`)")
    dec.add_argument("--gamma", type=int, default=4, help="drafts per target pass")
    dec.add_argument("--seed", type=int, default=0)
    dec.add_argument("--max-new-tokens", type=int, default=32)
    dec.add_argument("--temperature", type=float, default=1.0)
    dec.add_argument("--top-k", type=int, default=0, help="0 keeps all tokens")
    dec.add_argument("--top-p", type=float, default=1.0)
    dec.add_argument("--greedy", action="store_true", help="argmax decoding (explicit mode)")
    dec.add_argument("--coupling", default="gumbel",
                     help="sampler of --method autoregressive: gumbel or wmh")  # fmt: skip
    dec.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")
    dec.add_argument("--drafter-dtype", help="dtype of an hf: drafter (default: the target's)")
    dec.add_argument("--json", action="store_true")
    _model_args(dec)
    dec.set_defaults(func=_cmd_decode)

    dr = sub.add_parser("drafters", help="list the drafter names")
    dr.add_argument("--json", action="store_true")
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
    _model_args(dis)
    dis.set_defaults(func=_cmd_distill)

    rep = sub.add_parser("repro", help="the paper's language-model experiments (results/repro)")
    rep.add_argument(
        "experiment", nargs="?", default="all", choices=("coupling", "sd", "invariance", "all")
    )
    _repro_args(rep)
    _model_args(rep)
    rep.set_defaults(func=_cmd_repro)

    full = sub.add_parser("reproduce", help="the main job: all experiments, figures and tables")
    _repro_args(full)
    _model_args(full)
    full.set_defaults(func=_cmd_reproduce)
