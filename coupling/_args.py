"""Checks of command-line values shared by the subcommands: each returns the value converted
or raises :class:`coupling._output.CommandError` naming the flag."""

import os
from pathlib import Path

from coupling._output import CommandError, user_input

SEED_MAX = 2**64 - 1


def number(text):
    """An int if ``text`` reads as one, else a float (ValueError if neither)."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def family_params(items):
    """``--param KEY=VALUE`` items as a dict of numbers."""
    params = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            params[key] = number(value)
        except ValueError:
            raise CommandError(f"--param {key}: {value!r} is not a number") from None
    return params


def split(text):
    """The non-empty, stripped pieces of a comma-separated value."""
    return tuple(s.strip() for s in text.split(",") if s.strip())


def name_list(text, flag, allowed):
    """Comma-separated names, at least one, each in ``allowed``."""
    given = split(text)
    if not given:
        raise CommandError(f"{flag} is empty; name at least one of {', '.join(allowed)}")
    for name in given:
        if name not in allowed:
            what = flag.removeprefix("--").removesuffix("s")
            raise CommandError(f"unknown {what} {name!r}; choose from {', '.join(allowed)}")
    return given


def thread_count(value):
    """``--threads``: 0 (numba's default) up to the threads numba was started with."""
    import numba

    from coupling.simulate.validation import as_count

    with user_input():
        return as_count(value, "--threads", minimum=0, maximum=numba.config.NUMBA_NUM_THREADS)


def default_threads():
    """The thread count a command that runs torch uses when ``--threads`` is 0: the cores
    not busy with other processes now (:func:`coupling.simulate.validation.free_cores`)."""
    from coupling.simulate.validation import free_cores

    return free_cores()


def out_dir(text):
    """``--out`` as a directory this process can write in (created if missing), checked before
    any work, so a long run never fails at its end for want of a place to write."""
    out = Path(text)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} exists and is not a directory")
    made = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".coupling-write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        if made and out.is_dir():
            out.rmdir()
        raise CommandError(f"--out {out} is not writable: {exc.strerror or exc}") from None
    return out


def int_list(text, flag):
    """Comma-separated ints (``--n 100,1000``)."""
    try:
        return [int(v) for v in split(text)]
    except ValueError:
        raise CommandError(f"{flag} expects comma-separated ints, got {text!r}") from None
