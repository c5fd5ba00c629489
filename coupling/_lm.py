"""What the language-model commands share: loading the target, thread counts, model flags."""

import sys

from coupling._args import default_threads, thread_count
from coupling._output import user_input

__all__ = ["MODEL_ERRORS", "load_target", "model_args", "notify", "set_threads"]


def notify(message):
    """One progress line on stderr."""
    print(f"coupling: {message}", file=sys.stderr)


def set_threads(n):
    """``--threads N``: torch's and numba's thread pools; 0 (the default) takes the cores
    other processes leave free now (on a shared machine one thread can be ten times faster
    than two that wait for each other)."""
    import numba
    import torch

    n = thread_count(n) or default_threads()
    # numba first: launching its pool (OpenMP layer) resets the OpenMP thread count torch uses
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    torch.set_num_threads(n)


#: load_model's and open_model's errors are about the model asked for (a name, a path, a
#: dtype, a download), so they are the user's to fix.
MODEL_ERRORS = (ValueError, TypeError, RuntimeError)


def load_target(args, files=None):
    """The target's weights: ``files`` (from open_model, already checked) or ``--target``."""
    from coupling.paper_repro.model import load_model

    with user_input(*MODEL_ERRORS):
        return load_model(files or args.target, dtype=args.dtype, device=args.device,
                          notify=notify)  # fmt: skip


def model_args(p):
    """--target, --dtype, --device and --threads."""
    p.add_argument("--target", default="smollm2", help="target model: smollm2 or an HF path/id")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16, float16, float64")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda, ...) or auto")
    p.add_argument("--threads", type=int, default=0,
                   help="torch and numba threads (default: the cores free now)")  # fmt: skip
