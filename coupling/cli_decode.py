"""``coupling decode``: one prompt through a decoder of the engine, every flag checked (and
the model's context and KV memory) before any weights are loaded."""

import sys

from coupling._args import seed_value
from coupling._lm import MODEL_ERRORS, load_target, model_args, notify, set_threads
from coupling._output import CommandError, print_json, user_input

__all__ = ["add_decode_parser"]


#: --temperature, --top-k and --top-p when not given (SamplingConfig's defaults).
_SAMPLING_DEFAULTS = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}


def _sampling(args):
    """The SamplingConfig of the flags, refusing --greedy with any of the flags it overrides."""
    from coupling.decoding.sampling import SamplingConfig

    given = {k: v for k, v in vars(args).items() if k in _SAMPLING_DEFAULTS and v is not None}
    if args.greedy and given:
        key, value = next(iter(given.items()))
        flag = "--" + key.replace("_", "-")
        raise CommandError(f"--greedy and {flag} {value} cannot both hold: --greedy takes the "
                           f"argmax, which no {flag} changes; drop one of them")  # fmt: skip
    return SamplingConfig(greedy=args.greedy, **(_SAMPLING_DEFAULTS | given))


def _check_coupling(method, coupling):
    """Refuse --coupling with a method that does not take it (it chooses the sampler of the
    autoregressive reference only)."""
    from coupling.decoding import MULTIDRAFT_METHODS

    if coupling is None or method == "autoregressive":
        return
    if method == "sd":
        own = "standard SD samples with its own ratio test and residual"
    elif method in MULTIDRAFT_METHODS:
        own = f"{method} uses the K-slot race (gls) of its --drafts"
    else:
        own = f"{method} names its coupling ({method.removeprefix('disd-')})"
    raise CommandError(f"--coupling {coupling} and --method {method} cannot both hold: {own}; "
                       "--coupling chooses the sampler of --method autoregressive only")


def _check_decode_args(args):
    """Everything ``decode`` can refuse before the model is opened."""
    from coupling.decoding import check_method
    from coupling.paper_repro.drafters import check_drafter_name
    from coupling.paper_repro.model import check_device, check_dtype

    if not args.prompt or not args.prompt.strip():
        raise CommandError("--prompt is empty")
    seed_value(args.seed)
    check_method(args.method, args.coupling or "gumbel", args.drafts)
    _check_coupling(args.method, args.coupling)
    check_dtype(args.dtype)
    check_device(args.device)
    if args.gamma < 1:
        raise CommandError(f"--gamma must be >= 1, got {args.gamma}")
    if args.max_new_tokens < 1:
        raise CommandError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    if args.method != "autoregressive" and not args.drafter:
        raise CommandError(f"--method {args.method} needs --drafter NAME (see `coupling drafters`)")
    if args.drafter:
        check_drafter_name(args.drafter)
    if args.drafter_dtype is not None:
        check_dtype(args.drafter_dtype)
        if not (args.drafter or "").startswith("hf:"):
            raise CommandError("--drafter-dtype applies to hf: drafters only (named drafters "
                               "share the target's layers and dtype)")  # fmt: skip
    return _sampling(args)


def _check_limits(args, target, drafter, prompt_tokens):
    """Refuse a prompt and --max-new-tokens beyond either model's context, and KV caches the
    device cannot hold, from the configs alone (no weights loaded yet)."""
    from coupling.decoding import MULTIDRAFT_METHODS
    from coupling.decoding.limits import (
        check_context,
        check_kv_memory,
        context_limit,
        kv_cache_bytes,
    )

    limit = context_limit(target.config)
    if limit is not None and args.max_new_tokens >= limit:
        raise CommandError(f"--max-new-tokens {args.max_new_tokens:,} leaves no room for the "
                           f"prompt: the target takes at most {limit:,} positions "
                           "(max_position_embeddings in its config)")  # fmt: skip
    models = {f"--target {args.target}": target}
    if drafter is not None:
        models[f"--drafter {args.drafter}"] = drafter
    for flag, model in models.items():
        try:
            positions = check_context(model.config, prompt_tokens, args.max_new_tokens)
        except ValueError as exc:
            raise CommandError(f"{flag}: {exc}; shorten --prompt or lower --max-new-tokens") \
                from None  # fmt: skip
    rows = args.drafts if args.method in MULTIDRAFT_METHODS else 1  # the verify pass's batch
    needed = kv_cache_bytes(target.config, positions, batch=rows, dtype=args.dtype,
                            windowed=False)  # fmt: skip
    if args.method != "autoregressive":  # the drafter's own cache (a named one: the target's)
        config = target.config if drafter is None else drafter.config
        dtype = args.drafter_dtype or args.dtype
        needed += kv_cache_bytes(config, positions, dtype=dtype, windowed=False)
    check_kv_memory(needed, args.device, f"decoding {positions:,} positions (the KV caches)")


def _cmd_decode(args):
    from coupling.decoding import run_method
    from coupling.decoding.lm import CachedLM
    from coupling.paper_repro.drafters import make_drafter, open_drafter
    from coupling.paper_repro.model import encode_prompt, open_model

    with user_input():  # the checks above and SamplingConfig's
        sampling = _check_decode_args(args)
    set_threads(args.threads)
    drafter = None
    with user_input(*MODEL_ERRORS):  # both models' files, the prompt: all before any weights
        files = open_model(args.target, notify=notify)
        if args.method != "autoregressive":
            drafter = open_drafter(args.drafter, files.tokenizer)
        prompt = encode_prompt(files.tokenizer, args.prompt, chat=args.chat)
        _check_limits(args, files, drafter, len(prompt))
    loaded = load_target(args, files)
    if args.method != "autoregressive":
        with user_input(*MODEL_ERRORS):
            drafter = make_drafter(args.drafter, loaded, dtype=args.drafter_dtype, files=drafter)
    result = run_method(args.method, CachedLM(loaded.model), drafter, prompt, seed=args.seed,
                        gamma=args.gamma, max_new_tokens=args.max_new_tokens,
                        sampling=sampling, coupling=args.coupling or "gumbel",
                        drafts=args.drafts)  # fmt: skip
    text = loaded.tokenizer.decode(result.tokens)
    stats = result.stats.as_dict() | {"load_seconds": loaded.seconds}
    if args.json:
        print_json({"method": args.method, "drafter": args.drafter, "gamma": args.gamma,
                    "drafts": args.drafts, "seed": args.seed, "prompt_tokens": len(prompt),
                    "token_ids": result.tokens, "text": text, "stats": stats})  # fmt: skip
    else:
        print(text)
        print(f"[{args.method}] {stats['tokens']} tokens, {stats['target_calls']} target calls, "
              f"{stats['accepted']}/{stats['drafted']} drafts accepted, "
              f"{stats['seconds']:.2f} s", file=sys.stderr)  # fmt: skip
    return 0


def add_decode_parser(sub):
    """Add ``decode``."""
    dec = sub.add_parser("decode", help="generate with autoregressive, SD, DISD or multi-draft "
                                         "DISD decoding")  # fmt: skip
    dec.add_argument("--prompt", required=True)
    dec.add_argument("--method", default="disd-gumbel",
                     help="autoregressive, sd, disd-gumbel, disd-wmh, mdisd-strong or "
                          "mdisd-conditional")  # fmt: skip
    dec.add_argument("--drafter", help="drafter name (see `coupling drafters`)")
    dec.add_argument("--gamma", type=int, default=4, help="drafts per target pass")
    dec.add_argument("--seed", type=int, default=0)
    dec.add_argument("--max-new-tokens", type=int, default=32)
    dec.add_argument("--temperature", type=float, help="divides the logits (default 1)")
    dec.add_argument("--top-k", type=int, help="keep the k likeliest tokens (default 0: all)")
    dec.add_argument("--top-p", type=float, help="keep the likeliest tokens up to this mass "
                     "(default 1: all)")  # fmt: skip
    dec.add_argument("--greedy", action="store_true",
                     help="argmax decoding (explicit mode; takes no --temperature, --top-k or "
                          "--top-p)")  # fmt: skip
    dec.add_argument("--coupling",
                     help="sampler of --method autoregressive only: gumbel (default), wmh or "
                          "gls (the K-slot race, with --drafts K)")  # fmt: skip
    dec.add_argument("--drafts", type=int,
                     help="K, the draft chains of mdisd-strong and mdisd-conditional (and the "
                          "slots of --coupling gls)")  # fmt: skip
    dec.add_argument("--chat", action="store_true", help="wrap the prompt in the chat template")
    dec.add_argument("--drafter-dtype", help="dtype of an hf: drafter (default: the target's)")
    dec.add_argument("--json", action="store_true")
    model_args(dec)
    dec.set_defaults(func=_cmd_decode)
