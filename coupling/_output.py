"""Terminal side of the CLI: JSON on stdout, tqdm progress bars on stderr, and the one error
type a command raises for a mistake in what it was asked to do."""

import contextlib
import sys

from tqdm import tqdm

from coupling.outputs import json_text

__all__ = ["CommandError", "print_json", "progress_bar", "user_input"]


class CommandError(Exception):
    """A command that cannot run as asked: a mistake in its arguments or input files, or a
    place it cannot write to. ``coupling`` prints ``coupling <command>: error: <message>`` and
    exits with status 2; any other exception is a bug and shows its traceback."""


@contextlib.contextmanager
def user_input(*errors):
    """Inside the block, a ValueError or TypeError (or the ``errors`` given) is the user's
    mistake, reported by a library's argument validation: it becomes a :class:`CommandError`.

    Wrap the calls that check what the user gave (a family's parameters, a spec file, a
    config) and nothing that computes, so that a genuine bug still shows its traceback::

        with user_input():
            spec = load_spec(args.spec)
    """
    caught = errors or (ValueError, TypeError)
    try:
        yield
    except caught as exc:
        raise CommandError(str(exc)) from exc


def print_json(obj):
    """``obj`` as strict JSON on stdout (non-finite floats as the strings "inf", "nan")."""
    sys.stdout.write(json_text(obj, indent=2) + "\n")


@contextlib.contextmanager
def progress_bar(total, desc, *, enabled=True, unit="trials"):
    """A tqdm bar on stderr yielding an ``update(k)`` callback; silent when disabled."""
    if not enabled:
        yield None
        return
    with tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr) as bar:
        yield bar.update
