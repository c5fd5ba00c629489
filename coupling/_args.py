"""Checks of command-line values shared by the subcommands: each returns the value converted
(or, for ``--out``, holds the directory) or raises :class:`coupling._output.CommandError`
naming the flag."""

import contextlib
import functools

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
    """The cores this process may run on (:func:`coupling.simulate.validation.usable_cores`)."""
    from coupling.simulate.validation import usable_cores as cores

    return cores()


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
        raise CommandError(f"--threads must be <= {limit}; got {count} (0: the cores free now)")
    return count


def seed_value(value):
    """``--seed``: an int in [0, SEED_MAX], the public seed (checked before any work)."""
    from coupling.simulate.validation import as_count

    with user_input():
        return as_count(value, "--seed", minimum=0, maximum=SEED_MAX)


def default_threads():
    """The thread count a command that runs torch uses when ``--threads`` is 0: the cores
    not busy with other processes now (:func:`coupling.simulate.validation.free_cores`)."""
    from coupling.simulate.validation import free_cores

    return free_cores()


@contextlib.contextmanager
def results_dir(text, subdirs=(), flag="--out"):
    """``--out``: the run's results directory, held for the block's duration (a
    :class:`coupling.outputs.lock.ResultsDirectory`, yielded).

    Up front it refuses a path that cannot be a directory this process writes in, and one that
    another run holds, naming that run's pid; nothing is created until the command calls
    ``start()`` on what this yields, as its work starts, so a command that fails before then
    leaves no empty directory. Inside the block, a results file that cannot be written or
    replaced ends the command with one line naming it; what was stored before is kept.
    """
    from coupling.outputs import WriteError
    from coupling.outputs.lock import DirectoryInUse, ResultsDirectory

    def in_use(exc):
        return CommandError(f"{flag} {exc}; wait for it to finish, or choose another {flag}")

    try:
        results = ResultsDirectory(text, subdirs)
    except ValueError as exc:
        raise CommandError(f"{flag} {exc}") from None
    except DirectoryInUse as exc:
        raise in_use(exc) from None
    try:
        yield results
    except DirectoryInUse as exc:  # from start(): another run created the directory meanwhile
        raise in_use(exc) from None
    except WriteError as exc:
        raise CommandError(f"{exc}; the results stored before it are intact") from None
    finally:
        results.release()


def holds_out(command):
    """Run ``command(args, out_dir)`` inside :func:`results_dir` of ``args.out``: the command
    calls ``out_dir.start()`` when its work starts."""

    @functools.wraps(command)
    def run(args):
        with results_dir(args.out) as results:
            return command(args, results)

    return run


def int_list(text, flag):
    """Comma-separated ints (``--n 100,1000``)."""
    try:
        return [int(v) for v in split(text)]
    except ValueError:
        raise CommandError(f"{flag} expects comma-separated ints, got {text!r}") from None
