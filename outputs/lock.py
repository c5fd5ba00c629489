"""One run at a time in a results directory: an exclusive lock held for the run's lifetime.

A run holds ``flock(2)`` on ``<directory>/.coupling.lock`` for as long as it writes there and
writes its process id into that file. The kernel drops the lock when the holder's process
ends, however it ends (``kill -9`` included), so a lock left by a dead run is no lock: the next
run takes it over, and no pid has to be probed for liveness. A second live run is refused,
naming the holder's pid. The lock file stays when the lock is released: a run that deleted it
could leave two others holding locks on two different files of the same name.

:class:`ResultsDirectory` is what a command takes: it checks its directories before any work
(each one writable, or creatable under a writable parent, and not held by another run) without
creating them, and creates and locks them when the work starts, so a run that fails before then
(a model that cannot be loaded, say) leaves no empty directory behind.
"""

import fcntl
import os
import secrets
from pathlib import Path

from coupling.outputs import open_in_place

__all__ = ["LOCK_NAME", "DirectoryInUse", "DirectoryLock", "ResultsDirectory", "check_writable"]

LOCK_NAME = ".coupling.lock"


class DirectoryInUse(RuntimeError):
    """Another live run holds the lock on ``directory``; ``pid`` is its process id (None when
    it has not written one yet)."""

    def __init__(self, directory, pid):
        self.directory, self.pid = Path(directory), pid
        holder = f"pid {pid}" if pid else "pid not yet recorded"
        super().__init__(f"{self.directory} is in use by another run ({holder})")


def check_writable(directory):
    """Raise ValueError unless ``directory`` is a directory this process can write in, or can
    be created as one: its nearest existing ancestor must be a directory in which a file can
    be created (a probe file, removed at once). Creates nothing that stays."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file, not a directory")
    ancestor = directory
    while not os.path.lexists(ancestor):
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        what = "a file" if ancestor.exists() else "a broken symbolic link"
        raise ValueError(f"{directory} cannot be created: {ancestor} is {what}")
    probe = ancestor / f".coupling-probe-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{directory} cannot be written: {exc.strerror or exc}") from None


class DirectoryLock:
    """The exclusive lock on one directory (see the module docstring); reentrant for its
    holder: :meth:`acquire` on a held lock does nothing."""

    def __init__(self, directory):
        self.directory = Path(directory)
        self._fd = None

    @property
    def held(self):
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self):
        """Create the directory if missing and lock it; :class:`DirectoryInUse` if another run
        holds it, :class:`~coupling.outputs.WriteError` if it cannot be created."""
        if self.held:
            return self
        fd = open_in_place(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise DirectoryInUse(self.directory, int(text) if text.isdigit() else None) from None
        except BaseException:
            os.close(fd)
            raise
        # the pid of a run that died may be there: the kernel released its lock, so replace it
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self):
        """Let the lock go (closing the file releases it); nothing if not held."""
        if self.held:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class ResultsDirectory:
    """A run's results directory ``path`` and its ``subdirs`` (parts another command may
    write, such as ``reproduce``'s ``repro/``), checked up front and locked against other runs.

    Construction checks each directory with :func:`check_writable` (ValueError) and locks
    those that exist (:class:`DirectoryInUse` if another run holds one), before any work and
    creating nothing. :meth:`start` creates and locks the others when the work starts;
    :meth:`release`, or leaving the ``with`` block, lets every lock go. Two runs started at
    once on a directory that does not exist yet both pass the check, and the second is refused
    by :meth:`start`, before it writes anything.
    """

    def __init__(self, path, subdirs=()):
        self.path = Path(path)
        directories = [self.path, *(self.path / name for name in subdirs)]
        for directory in directories:
            check_writable(directory)
        self._locks = [DirectoryLock(directory) for directory in directories]
        try:
            for lock in self._locks:
                if lock.directory.is_dir():
                    lock.acquire()
        except BaseException:
            self.release()
            raise

    def start(self):
        """Create and lock every directory not locked yet; returns ``path``."""
        for lock in self._locks:
            lock.acquire()
        return self.path

    def release(self):
        """Let every lock go."""
        for lock in self._locks:
            lock.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
