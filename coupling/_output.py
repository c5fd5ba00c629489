"""Terminal output of the CLI: JSON on stdout and tqdm progress bars on stderr."""

import contextlib
import sys

from tqdm import tqdm

from outputs import json_text


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
