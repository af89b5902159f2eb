"""The watcher of spec/FORMAT.md §11.8: one background thread for every open index of the process.

A deploy that does not retire the old file (``mv`` or ``rsync`` of a new index over the path,
``rm`` and a new build, a build that may not write the old file: a 0444 index of another user,
a read-only mount) leaves nothing in the mapped file for a lookup to notice, and a lookup makes
no system call. So this thread looks at every open path about every 100 ms (one open, fstat and
32-byte read each) and flags the file of an index whose path names another file, or whose file
changed size or its first 32 bytes (:meth:`idxmap.mapping.MappedFile.look`). A flagged file's
header word no longer matches what lookups compare it with, so the next lookup takes the slow
path, which follows the path (or reopens it) as for a retired file.

It holds weak references only: an Index that nobody uses any more is not kept open by it. The
thread is a daemon, started by the first open and ended when no index is open; a forked child
starts its own.

This module also counts the replacements this process made (:func:`replaced`): a reader that
follows its path looks at once after one, so a process reads its own writes (§11.7).
"""

from __future__ import annotations

import os
import threading
import time
import weakref

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List

INTERVAL_SECONDS = 0.1

replacements = 0
"""How many times this process renamed (or linked) a new file over an index path."""


class _Watcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refs: List[weakref.ref] = []  # of Index objects (their _watch method says what to look at)
        self._thread: Any = None

    def watch(self, ix: Any) -> None:
        with self._lock:
            self._refs.append(weakref.ref(ix))
            if self._thread is None:
                self._start()

    def _start(self) -> None:
        # The caller holds the lock.
        t = threading.Thread(target=self._run, name="idxmap-watcher", daemon=True)
        self._thread = t
        t.start()

    def _run(self) -> None:
        while True:
            time.sleep(INTERVAL_SECONDS)
            with self._lock:
                if not self._refs:
                    self._thread = None  # the next open starts another
                    return
                refs = list(self._refs)
            gone = self.look(refs)
            if gone:
                # By identity: a live weakref compares its referents, and an Index compares as a Mapping.
                ids = {id(r) for r in gone}
                with self._lock:
                    self._refs = [r for r in self._refs if id(r) not in ids]

    def look(self, refs: List[weakref.ref]) -> List[weakref.ref]:
        """Looks at each index's path once; returns the references to drop (collected or closed)."""
        gone = []
        for r in refs:
            ix = r()
            try:
                if ix is None or not ix._watch():
                    gone.append(r)
            except Exception:  # noqa: BLE001 - the watcher never dies of one index's trouble
                pass
            ix = None  # no reference kept until the next round
        return gone

    def look_now(self) -> None:
        with self._lock:
            refs = list(self._refs)
        self.look(refs)

    def after_fork(self) -> None:
        # The child has no thread: the parent's lock may have been held at the fork.
        self._lock = threading.Lock()
        self._thread = None
        self._refs = [r for r in self._refs if r() is not None]
        if self._refs:
            self._start()


_watcher = _Watcher()

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_watcher.after_fork)


def watch(ix: Any) -> None:
    """Adds an open Index: its ``_watch()`` is called about every 100 ms from the watcher's
    thread, until it returns False (closed) or the Index is collected."""
    _watcher.watch(ix)


def replaced() -> None:
    """Called by a build after it renamed a new file over an index path: readers of this process
    look at their paths at once, and the watcher looks now, so the replacement is read at once
    even when the old file could not be marked retired."""
    global replacements
    replacements += 1
    _watcher.look_now()
