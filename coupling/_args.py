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


def usable_cores():
    """The cores this process may run on (its CPU affinity where the OS tells, else all)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_count(value):
    """``--threads`` of every command: 0 (each library's default) up to this machine's cores,
    and no more than numba's pool (``NUMBA_NUM_THREADS``, the cores unless set lower): more
    threads than cores only wait for each other."""
    import numba

    from coupling.simulate.validation import as_count

    cores, pool = usable_cores(), numba.config.NUMBA_NUM_THREADS
    with user_input():
        count = as_count(value, "--threads", minimum=0)
    if count > min(cores, pool):
        limit = (f"{cores}, the cores of this machine" if cores <= pool
                 else f"{pool}, numba's thread pool (NUMBA_NUM_THREADS)")  # fmt: skip
        raise CommandError(f"--threads must be <= {limit}; got {count} (0: use them all)")
    return count


def seed_value(value):
    """``--seed``: an int in [0, SEED_MAX], the public seed (checked before any work)."""
    from coupling.simulate.validation import as_count

    with user_input():
        return as_count(value, "--seed", minimum=0, maximum=SEED_MAX)


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
