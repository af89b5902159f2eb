"""The in-place edits of spec/FORMAT.md §11.3 over a slot region (src/core/table.ts SlotEditor in
the Node package): where an insert goes, the backward shift of a delete, and the check that a
run about to be shifted keeps the rules of §5.2. Every state between two stores is a table
whose lookups answer as before or as after the edit: an insert copies from the far end, so
each moved entry is in its new slot before its old one is overwritten; a delete's first copy
removes the deleted key and each later copy writes an entry one slot earlier before its old
slot is overwritten.

In versions 1 and 2 a slot store is one 8-byte store, and that is the whole story. A version 3
slot (§16.1: the hash word, then the value, packed: 12 bytes for 64/32 and 32/64, 16 for 64/64)
is stored here as its two fields, each with one store of its width (§16.6 asks for one 16-byte
store of the whole slot; Python has none). Between the two stores a slot holds the new hash
word with the old value, or the old hash word with the new value; the stores are ordered so that
no reader can take either for an entry it is not:

- a copy to the right (an insert's shift) stores the hash word first: the slot it overwrites
  holds an entry that is also in the slot after it, and a new hash word equal to the slot
  before's makes it a tombstone (its value means nothing) until the value follows;
- a copy to the left over a tombstone (a delete's later copies, a recovery) stores the value
  first, unseen behind the tombstone's hash word, then the hash word; so does the store of
  EMPTY, 0 that ends a delete's shift (the last slot copied is then a tombstone);
- a slot that holds an entry and must take another (an insert's last store, a delete's first
  copy or its single store of EMPTY) is first made a tombstone of the slot before it (one
  store of that slot's hash word), then takes the value, then the hash word: three stores,
  each leaving a sound table.

That last step needs a slot before it that is not empty. When the slot is slot 0 or follows an
empty slot, nothing but a whole-slot store can change it soundly, and the two stores are ordered
so that only the key the operation changes can read wrong between them (the residual case of
python/README.md, "Version 3 and whole-slot stores"): an insert into an empty slot stores the
value first (the slot reads empty meanwhile, with a value verify would report); an insert that
shifts stores the new hash word first (the new key reads the displaced entry's value meanwhile);
a delete that shifts stores the next entry's value first (the deleted key reads it meanwhile); a
delete that does not shift stores EMPTY first (the slot reads empty, with the old value). The
seq check of §11.7 discards any probe that overlaps these stores; only a reader's answer beside
a writer stopped for a second between two of them (§11.7's two-probe path), or the file a
writer killed between them leaves, can show them.
"""

from __future__ import annotations

from typing import Optional

from .slots import SlotRegion
from .widths import Widths


class InsertPlan:
    """Where an insert goes: slot ``at`` takes the new entry; ``at .. end - 1`` each move one slot
    right; ``reach`` is what the table needs once they have moved (§11.3)."""

    __slots__ = ("at", "end", "reach")

    def __init__(self, at: int, end: int, reach: int) -> None:
        self.at = at
        self.end = end
        self.reach = reach


class SlotEditor:
    """§5.3 and §11.3 over ``region``, a table of ``capacity`` home slots of widths ``w``."""

    __slots__ = ("region", "capacity", "slot_count", "w", "_home", "_empty")

    def __init__(self, region: SlotRegion, capacity: int, w: Widths) -> None:
        self.region = region
        self.capacity = capacity
        self.slot_count = region.slot_count
        self.w = w
        self._home = w.home
        self._empty = w.empty

    def home(self, h: int) -> int:
        return self._home(h, self.capacity)

    def find(self, h: int, reach: int) -> int:
        """§5.3: the slot holding hash ``h`` (not EMPTY), or -1. The writer holds the lock:
        nothing moves under it."""
        r = self.region
        s = self._home(h, self.capacity)
        last = min(s + reach, self.slot_count - 1)
        x = r.hash(s)
        while x < h and s < last:
            s += 1
            x = r.hash(s)
        return s if x == h else -1

    def plan_insert(self, h: int, reach: int) -> Optional[InsertPlan]:
        """Where inserting ``h`` (absent) goes, and the reach the table needs after it
        (``reach`` is the current one). None when it would take the last slot, the sentinel:
        the table must be rehashed first."""
        r = self.region
        last = self.slot_count - 1
        home = self._home(h, self.capacity)
        at = home
        # Bounded by the last slot: a table damaged since it was opened must not send the scan
        # past the region (a rehash then refuses the damage).
        while at < last and r.hash(at) < h:
            at += 1
        end = at
        needed = max(reach, at - home)
        x = r.hash(end)
        while x != self._empty and end < last:
            moved = end + 1 - self._home(x, self.capacity)
            if moved > needed:
                needed = moved
            end += 1
            x = r.hash(end)
        return None if end >= last else InsertPlan(at, end, needed)

    def shift_end(self, s: int) -> int:
        """The last slot a removal from ``s`` writes: where its backward shift ends (§5.4)."""
        r = self.region
        cur = s
        while True:
            if cur + 1 >= self.slot_count:
                return cur  # only a damaged table has no empty last slot
            h = r.hash(cur + 1)
            if h == self._empty or self._home(h, self.capacity) > cur:
                return cur
            cur += 1

    def run_problem(self, first: int, last: int, reach: int) -> Optional[str]:
        """What is wrong with slots ``first..last`` by §5.2, or None: every entry at or after its
        home and within ``reach`` of it, entries in increasing order (from the last entry
        before ``first``), no tombstone. A writer checks the run it is about to shift:
        editing a damaged table would make the damage permanent."""
        r = self.region
        previous = r.hash(first - 1) if first > 0 else self._empty
        last_entry = -1 if previous == self._empty else previous
        for s in range(first, min(last, self.slot_count - 1) + 1):
            h = r.hash(s)
            if h != self._empty and h != previous:
                if last_entry >= 0 and h <= last_entry:
                    return f"slot {s} is out of hash order"
                home = self._home(h, self.capacity)
                if home > s:
                    return f"slot {s} holds an entry whose home slot {home} is after it"
                if s - home > reach:
                    return f"slot {s} is {s - home} slots from its home, beyond the header's reach {reach}"
                last_entry = h
            elif h != self._empty:
                return f"slot {s} repeats the slot before it, but no write was interrupted"
            previous = h
        return None

    # ---- the edits ----

    def insert(self, plan: InsertPlan, h: int, v: int) -> None:
        """Inserts per ``plan``: shifts ``at .. end - 1`` right from the far end, so that each
        entry is copied before its old slot is overwritten, then stores the new entry."""
        r = self.region
        at = plan.at
        if not r.wide:
            for s in range(plan.end, at, -1):
                r.copy(s, s - 1)
            r.store(at, h, v)
            return
        if r.whole is not None:
            # Whole-slot stores (the C extension): as version 2, no slot ever half stored.
            for s in range(plan.end, at, -1):
                r.whole.copy(s, s - 1)
            r.whole.store(at, h, v)
            return
        for s in range(plan.end, at, -1):
            # Hash first: slot s (an entry also in s + 1, or empty) becomes a tombstone of s - 1.
            hf, vf = r.raw(s - 1)
            r.store_hash_field(s, hf)
            r.store_value_field(s, vf)
        self._replace(at, h, v, shifted=plan.end > at)

    def remove(self, s: int, last: int) -> None:
        """Removes the entry (or tombstone) in slot ``s`` by backward shift up to ``last``
        (:meth:`shift_end`): each following entry that may sit one slot earlier moves left, and
        slot ``last`` becomes empty. No marker is left."""
        r = self.region
        if not r.wide:
            for cur in range(s, last):
                r.copy(cur, cur + 1)
            r.store(last, self._empty, 0)
            return
        if r.whole is not None:
            for cur in range(s, last):
                r.whole.copy(cur, cur + 1)
            r.whole.store(last, self._empty, 0)
            return
        # Slot s is a tombstone (recovery's removal) or the entry deleted.
        tombstone = s > 0 and r.hash(s) == r.hash(s - 1)
        for cur in range(s, last):
            hf, vf = r.raw(cur + 1)
            if cur == s and not tombstone:
                self._replace(cur, hf, vf, shifted=True, delete=True)
            else:
                # Over a tombstone: the value first, unseen, then the hash.
                r.store_value_field(cur, vf)
                r.store_hash_field(cur, hf)
        if last == s and not tombstone:
            self._replace(last, self._empty, 0, shifted=False, delete=True)
        else:
            r.store_value_field(last, 0)
            r.store_hash_field(last, self._empty)

    def _replace(self, s: int, h: int, v: int, shifted: bool, delete: bool = False) -> None:
        """Version 3: slot ``s``, which holds an entry (or is empty), takes (h, v): through a
        tombstone of slot ``s - 1`` when that slot holds an entry; else in the order that only
        misreads the key being changed (see the module doc)."""
        r = self.region
        previous = r.hash(s - 1) if s > 0 else self._empty
        if previous != self._empty:
            r.store_hash_field(s, previous)
            r.store_value_field(s, v)
            r.store_hash_field(s, h)
            return
        if delete == shifted:
            # An insert into an empty slot, or a delete that shifts: the value first.
            r.store_value_field(s, v)
            r.store_hash_field(s, h)
        else:
            # An insert that shifts, or a delete that does not: the hash first.
            r.store_hash_field(s, h)
            r.store_value_field(s, v)
