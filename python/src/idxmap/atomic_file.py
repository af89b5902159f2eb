"""New files beside their target (spec/FORMAT.md §11.1): a temp file is written, synced and renamed
over the target, so that a reader (or a crash at any moment) sees the old file or the new one,
never a mix. A mapped file is never truncated or rewritten from offset 0: a reader of a
shrinking mapping would die of SIGBUS. Temp files of a process that died are removed by the
next build or writer (src/os/atomic-file.ts in the Node package).
"""

from __future__ import annotations

import os
import re
from typing import Any, Sequence

from .errors import ERR_IDX_IO, error, io_error

TEMP_NAME = re.compile(r"^\.(.+)\.(\d+)\.[0-9a-f]{8}\.tmp$")
"""§11.1: ``.<name>.<pid>.<8 hex digits>.tmp``: the pid tells a dead process's temp file from a
live one's; the random part keeps two temp files of one process apart."""


class TempFile:
    """A complete new file beside its target, still open (its descriptor may carry a lock)."""

    __slots__ = ("path", "fd")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self.fd = fd


def write_target(path: str) -> str:
    """The file a write to ``path`` replaces: through symlinks, as ``cp`` and ``>`` write through
    them, so that a link keeps naming the index (a rename over the link would replace the link
    itself, and leave the file it named marked retired while still in place). A dangling link,
    or no file: ``path`` (src/os/atomic-file.ts writeTarget)."""
    try:
        if os.path.islink(path):
            os.stat(path)  # raises for a dangling link
            return os.path.realpath(path)
    except OSError:
        pass
    return path


def temp_path_for(target: str) -> str:
    directory = os.path.dirname(target) or "."
    return os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")


def write_temp_file(target: str, parts: Sequence[Any], sync: bool) -> TempFile:
    """Writes ``parts`` (bytes-like, in order) to a new temp file beside ``target``, with the
    mode of the file it will replace (exactly: fchmod, not reduced by the umask; a new index
    gets 0666 less the umask), syncs it unless ``sync`` is False, and returns it still open.
    Removes the temp files of dead processes first. On failure nothing is left behind.

    Raises:
        IdxIOError: ``target`` is a directory, or the temp file cannot be created or written.
    """
    remove_stale_temp_files(target)
    directory = os.path.dirname(target) or "."
    mode = None
    try:
        st = os.stat(target)
    except OSError:
        st = None
    if st is not None:
        if os.path.isdir(target):
            raise error(ERR_IDX_IO, "is a directory; give the path of the index file to write", path=target)
        mode = st.st_mode & 0o777
    temp = temp_path_for(target)
    try:
        fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666 if mode is None else mode)
    except OSError as e:
        raise io_error(
            f"create a temp file in {directory}", target, e, "Check that the output directory exists and is writable."
        ) from e
    if mode is not None:
        try:
            os.fchmod(fd, mode)
        except OSError:
            pass  # not allowed here (a file system without modes): the umask's mode stands
    try:
        try:
            for part in parts:
                view = memoryview(part).cast("B")
                done = 0
                while done < len(view):
                    done += os.write(fd, view[done : done + (1 << 30)])
            if sync:
                os.fsync(fd)
        except OSError as e:
            raise io_error(
                "write the new index", target, e, "Free some disk space and try again; the old index is unchanged."
            ) from e
    except BaseException:
        os.close(fd)
        discard(temp)
        raise
    return TempFile(temp, fd)


def commit(temp: str, target: str, sync: bool, no_clobber: bool) -> bool:
    """Gives the temp file the name ``target``: renamed over the old file, or, with
    ``no_clobber`` (there was none), linked only if the path is still free: False, changing
    nothing, if a file appeared meanwhile (the caller locks it and tries again). A dangling
    symlink is no file and never will be one to lock: it is replaced.

    Raises:
        IdxIOError: the rename fails (the temp file is then left for the caller to discard).
    """
    try:
        if no_clobber:
            try:
                os.link(temp, target)
            except FileExistsError:
                if not (os.path.islink(target) and not os.path.exists(target)):
                    return False
                os.rename(temp, target)
            else:
                os.unlink(temp)
        else:
            os.rename(temp, target)
    except OSError as e:
        raise io_error("move the new index into place", target, e) from e
    # Readers of this process look at their paths now: a process reads its own writes (§11.7).
    from . import watcher

    watcher.replaced()
    if sync:
        sync_directory(os.path.dirname(target) or ".")
    return True


def discard(temp: str) -> None:
    """Removes a temp file that will not be used. Raises nothing."""
    try:
        os.unlink(temp)
    except OSError:
        pass


def sync_directory(directory: str) -> None:
    # The rename is data of the directory. Some file systems refuse fsync on a directory; the
    # rename itself is still atomic there.
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def remove_stale_temp_files(target: str) -> None:
    """Removes temp files that a killed build or writer left beside ``target``: those named
    after it whose process no longer runs."""
    directory = os.path.dirname(target) or "."
    base = os.path.basename(target)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        m = TEMP_NAME.match(name)
        if not m or m.group(1) != base:
            continue
        pid = int(m.group(2))
        if pid == os.getpid() or alive(pid):
            continue
        try:
            os.unlink(os.path.join(directory, name))
        except OSError:
            pass


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
