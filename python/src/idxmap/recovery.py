"""Recovery (spec/FORMAT.md §11.6): what a writer does first with a file its predecessor left
mid-operation (dirty blocks, an odd seq) or mid-swap (RETIRED, still at its path), as
src/writer/recovery.ts does in the Node package. The whole file is checked first, as verify
checks an interrupted file, so that damage stops it before it changes anything; then, bracketed
so that readers see it, the tombstone is removed, the entries recounted, the dirty blocks
rechecksummed and the marks cleared.
"""

from __future__ import annotations

from typing import Any, List

from .cells import HeaderCells
from .checks import Problems, check_blocks, check_table
from .edits import SlotEditor
from .errors import ERR_IDX_CHECKSUM, error
from .format import Header
from .operation import damaged, quiet


def needs_recovery(cells: HeaderCells) -> bool:
    return cells.dirty[1] > 0 or (cells.seq & 1) == 1 or cells.retired


def recover(mm: Any, cells: HeaderCells, editor: SlotEditor, header: Header, path: str) -> None:
    """Repairs what a stopped writer left (§11.6). ``header`` is the file's header as it is now.

    Raises:
        ChecksumError: a block outside the dirty ones fails its checksum (nothing changed).
        CorruptError: the table breaks a rule of §9.2 that an interrupted write cannot explain.
    """
    first, count = cells.dirty
    region = editor.region
    problems = Problems(1)
    check_blocks(mm, header, problems)
    if problems.list:
        p = problems.list[0]
        raise error(
            ERR_IDX_CHECKSUM,
            f"{p.message}; a writer stopped mid-operation, and the file cannot be repaired",
            path=path,
            offset=p.offset,
            hint="Run `idx verify` to see all damage; recover what is readable with `idx dump` and rebuild.",
        )
    entries, tombstones = check_table(mm, header, problems)
    if problems.list:
        raise damaged(path, f"{problems.list[0].message}; a writer stopped mid-operation, and the file cannot be repaired")
    # Where the tombstone is, before seq goes odd: inside the bracket only the repair's stores
    # remain. §9.2 has allowed one, inside the dirty blocks.
    found: List[int] = []
    if tombstones:
        per_block = region.slots_per_block
        lo = max(1, first * per_block)
        hi = min(region.slot_count, (first + count) * per_block)
        previous = region.hash(lo - 1)
        for s in range(lo, hi):
            h = region.hash(s)
            if h == previous and h != region.empty:
                found.append(s)
            previous = h
    changed = set(range(first, first + count))
    with quiet():
        cells.fresh_odd_seq()
        # A repeat of the slot before is what an unfinished shift leaves: removed as a delete
        # removes an entry (from the last one back, so each leaves the earlier in place).
        for s in reversed(found):
            last = editor.shift_end(s)
            changed.update(range(s // region.slots_per_block, last // region.slots_per_block + 1))
            editor.remove(s, last)
        for b in sorted(changed):
            region.write_checksum(b)
        if cells.retired:
            cells.unretire()
        cells.set_entries(entries)
        cells.clear_dirty()
        cells.bump_seq()
