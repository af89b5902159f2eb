"""A Python writer in a process of its own, for the tests that kill it, hold its lock or read
beside it (test_writer_crash.py, test_writer_cross.py). Prints one line per event on stdout.

    python writer_helper.py ops INDEX OPS.json [PROGRESS]
        applies OPS.json (["set", k, v], ["del", k], ["update", [[k, v], ...]], ["compact"],
        ["reopen"]) with an idxmap.Writer (sync off); prints "started", then "done" after the
        last one, then waits to be killed. PROGRESS, if given, is a file whose first 8 bytes
        count the operations done (stored after each one, in a shared mapping: a kill -9 loses
        none of it).
    python writer_helper.py count INDEX OPS.json
        applies OPS.json as ops does, counting the writer's stores (see kill points below), and
        prints {"after": [stores done after each operation], "rehash": [operations that wrote a
        new file]}.
    python writer_helper.py hold INDEX WAIT_SECONDS
        opens a Writer (waiting up to WAIT_SECONDS), prints "locked", waits for a line on
        stdin, closes, prints "closed".
    python writer_helper.py churn INDEX SEED KEYS SECONDS
        node_helper.js's writer: sets, deletes, growth and compaction for SECONDS, every value
        tagged with its key (tag_of below), the generation going up; prints a JSON summary.

Kill points: with IDXMAP_KILL_AT=N in the environment, ops SIGKILLs its own process right after
the writer's Nth store (a cell, a slot or a field of one, a checksum, a value; the new file of
a rehash written; its rename done): a kill -9 at an exact point of the protocol. A version 3
slot that only a whole-slot store could change soundly (the residual case of python/README.md)
counts as one store: no kill point falls between its two halves (test_writer_crash.py tests
those windows on their own).
"""

from __future__ import annotations

import json
import mmap
import os
import signal
import sys
import time

import idxmap

MASK32 = 0xFFFFFFFF


def tag_of(k: int) -> int:
    # node_helper.js's tagOf: 12 bits of the key above a 20-bit generation.
    return (((k * 2654435761) & MASK32) >> 20) & 0xFFF


def value_of(k: int, g: int) -> int:
    return ((tag_of(k) << 20) | (g & 0xFFFFF)) & MASK32


def mulberry32(seed: int):  # type: ignore[no-untyped-def]
    a = seed & MASK32
    while True:
        a = (a + 0x6D2B79F5) & MASK32
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & MASK32
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & MASK32)) & MASK32
        yield (t ^ (t >> 14)) & MASK32


def apply(w: idxmap.Writer, op: list, path: str) -> idxmap.Writer:
    if op[0] == "set":
        w[op[1]] = op[2]
    elif op[0] == "del":
        w.delete(op[1])
    elif op[0] == "update":
        w.update(op[1])
    elif op[0] == "compact":
        w.compact()
    elif op[0] == "reopen":
        w.close()
        w = idxmap.Writer(path, sync=False)
    else:
        raise ValueError(f"unknown op {op[0]}")
    return w


class Stores:
    """Counts the writer's stores, and kills the process after the one numbered ``kill_at``."""

    def __init__(self, kill_at: int) -> None:
        self.n = 0
        self.kill_at = kill_at
        self.hold = 0
        self.rehashes = 0

    def event(self) -> None:
        if self.hold:
            return
        self.n += 1
        if self.n == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        from idxmap import cells, edits, rehash, slots

        def counted(orig):  # type: ignore[no-untyped-def]
            def wrapper(*a, **k):  # type: ignore[no-untyped-def]
                result = orig(*a, **k)
                self.event()
                return result

            return wrapper

        cells.HeaderCells.store = counted(cells.HeaderCells.store)  # type: ignore[method-assign]
        for name in ("store", "copy", "store_hash_field", "store_value_field", "store_value", "write_checksum"):
            setattr(slots.SlotRegion, name, counted(getattr(slots.SlotRegion, name)))
        write_temp_file = rehash.write_temp_file

        def writing(*a, **k):  # type: ignore[no-untyped-def]
            self.rehashes += 1
            return write_temp_file(*a, **k)

        rehash.write_temp_file = counted(writing)
        rehash.commit = counted(rehash.commit)
        replace = edits.SlotEditor._replace

        def whole(editor, s, *a, **k):  # type: ignore[no-untyped-def]
            residual = editor.region.wide and (s == 0 or editor.region.hash(s - 1) == editor.region.empty)
            self.hold += residual
            try:
                replace(editor, s, *a, **k)
            finally:
                self.hold -= residual
            if residual:
                self.event()

        edits.SlotEditor._replace = whole  # type: ignore[method-assign]


def main() -> None:
    command, path, *args = sys.argv[1:]
    stores = Stores(int(os.environ.get("IDXMAP_KILL_AT", "0")))
    if command in ("ops", "count"):
        stores.install()
    if command == "count":
        with open(args[0]) as f:
            ops = json.load(f)
        after = []
        rehashed = []
        w = idxmap.Writer(path, sync=False)
        for i, op in enumerate(ops):
            before = stores.rehashes
            w = apply(w, op, path)
            after.append(stores.n)
            if stores.rehashes > before:
                rehashed.append(i)
        w.close()
        print(json.dumps({"after": after, "rehash": rehashed}), flush=True)
        return
    if command == "ops":
        with open(args[0]) as f:
            ops = json.load(f)
        progress = None
        if len(args) > 1:
            pf = open(args[1], "r+b")
            progress = memoryview(mmap.mmap(pf.fileno(), 8)).cast("Q")
        w = idxmap.Writer(path, sync=False)
        print("started", flush=True)
        for i, op in enumerate(ops):
            w = apply(w, op, path)
            if progress is not None:
                progress[0] = i + 1
        print("done", flush=True)
        time.sleep(3600)
    elif command == "hold":
        w = idxmap.Writer(path, sync=False, wait=float(args[0]))
        print("locked", flush=True)
        sys.stdin.readline()
        w.close()
        print("closed", flush=True)
    elif command == "churn":
        seed, keys, seconds = int(args[0]), int(args[1]), float(args[2])
        r = mulberry32(seed)
        stable = [(i * 2654435761 + 7) & MASK32 for i in range(keys)]
        churn = [(i * 40503 + 0x9E3779B9) & MASK32 for i in range(keys * 4)]
        gen: dict = {}
        live: set = set()
        ops = compactions = 0
        w = idxmap.Writer(path, sync=False)
        started = time.monotonic()
        try:
            while time.monotonic() - started < seconds:
                pick = next(r) % 100
                if pick < 45:
                    k = stable[next(r) % len(stable)]
                    gen[k] = gen.get(k, 0) + 1
                    w[k] = value_of(k, gen[k])
                elif pick < 75:
                    k = churn[next(r) % len(churn)]
                    gen[k] = gen.get(k, 0) + 1
                    w[k] = value_of(k, gen[k])
                    live.add(k)
                elif pick < 99:
                    k = churn[next(r) % len(churn)]
                    if k in live:
                        w.delete(k)
                        live.discard(k)
                elif next(r) % 20 == 0:
                    w.compact()
                    compactions += 1
                ops += 1
                if ops % 256 == 0:
                    time.sleep(0.001)  # readers in other processes need the CPU too (2 cores)
        finally:
            w.close()
        print(json.dumps({"ok": True, "ops": ops, "compactions": compactions, "size": len(live) + len(stable)}), flush=True)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
