/**
 * Recovery (spec/FORMAT.md §11.6): what a writer does first with a file its predecessor left
 * mid-operation (dirty blocks, an odd seq) or mid-swap (RETIRED, still at its path). Checks
 * every block outside the dirty range first, so damage stops it before it changes anything;
 * then, bracketed so readers see it, removes the tombstone, recounts, rechecksums the dirty
 * blocks and clears the marks.
 */
import { SLOTS_PER_BLOCK } from "../core/format";
import { SlotEditor, isEntry, isTombstone, NO_PREVIOUS } from "../core/table";
import { HeaderCells } from "./cells";
import { OperationBracket } from "./operation";

/** True when the file needs recovery. */
export function needsRecovery(cells: HeaderCells): boolean {
  return cells.dirty.count > 0 || (cells.seq & 1) === 1 || cells.retired;
}

export function recover(cells: HeaderCells, editor: SlotEditor, bracket: OperationBracket): void {
  const { first, count } = cells.dirty;
  const region = editor.region;
  const blocks = Math.ceil(region.slotCount / SLOTS_PER_BLOCK);
  const dirty = (b: number) => count > 0 && b >= first && b < first + count;
  for (let b = 0; b < blocks; b++) {
    if (!dirty(b)) bracket.checkBlock(b);
  }
  cells.freshOddSeq();
  // A repeat of the previous slot is a leftover of an unfinished shift: remove it the way a
  // delete removes an entry, then look at the same slot again.
  const changed = new Set<number>();
  let entries = 0;
  let previous = NO_PREVIOUS;
  for (let s = 0; s < region.slotCount; s++) {
    const hash = region.hashWord(s);
    if (isTombstone(previous, hash)) {
      const last = editor.shiftEnd(s);
      for (let b = Math.floor(s / SLOTS_PER_BLOCK); b <= Math.floor(last / SLOTS_PER_BLOCK); b++) changed.add(b);
      editor.remove(s, last);
      s--;
      continue;
    }
    if (isEntry(previous, hash)) entries++;
    previous = hash;
  }
  for (let b = first; b < first + count; b++) changed.add(b);
  for (const b of changed) bracket.writeChecksum(b);
  if (cells.retired) cells.unretire();
  cells.setEntries(entries);
  cells.clearDirty();
  cells.bumpSeq();
}

