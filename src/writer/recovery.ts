/**
 * Recovery (spec/FORMAT.md §11.6): what a writer does first with a file its predecessor left
 * mid-operation (dirty blocks, an odd seq) or mid-swap (RETIRED, still at its path). Checks
 * every block outside the dirty range first, so damage stops it before it changes anything;
 * then, bracketed so readers see it, removes the tombstone, recounts, rechecksums the dirty
 * blocks and clears the marks.
 */
import { Problems, checkBlocks, checkTable } from "../core/checks";
import { IdxError } from "../core/errors";
import { Header } from "../core/format";
import { Word } from "../core/slots";
import { SlotEditor, isTombstone } from "../core/table";
import { HeaderCells } from "../core/cells";
import { OperationBracket, damaged } from "./operation";

/** True when the file needs recovery. */
export function needsRecovery(cells: HeaderCells): boolean {
  return cells.dirty.count > 0 || (cells.seq & 1) === 1 || cells.retired;
}

export function recover(
  cells: HeaderCells, editor: SlotEditor, bracket: OperationBracket, header: Header, checksums: Uint8Array, path: string,
): void {
  const { first, count } = cells.dirty;
  const region = editor.region;
  // First the whole check, changing nothing: the blocks outside the dirty range, and every rule
  // of §5.2 as §9.2 relaxes them for an interrupted file (a count off by one, one tombstone
  // inside the dirty blocks). A table that breaks more is damaged, not interrupted.
  const problems = new Problems(1);
  if (checkBlocks(region, checksums, header, problems) >= 0) {
    throw new IdxError("ERR_IDX_CHECKSUM", `${problems.list[0].message}; a writer stopped mid-operation, and the file cannot be repaired`, {
      path, offset: problems.list[0].offset,
      hint: "Run `idx verify` to see all damage; recover what is readable with `idx dump` and rebuild.",
    });
  }
  const scan = checkTable(region, header, problems);
  if (problems.list.length > 0) throw damaged(path, `${problems.list[0].message}; a writer stopped mid-operation, and the file cannot be repaired`);
  // The count and the tombstones are known from that scan, before seq goes odd: inside the
  // bracket (which readers wait out) only the few stores of the repair remain.
  const tombstones: number[] = [];
  let previous: Word = region.empty;
  if (scan.tombstones > 0) {
    for (let s = 0; s < region.slotCount; s++) {
      const hash = region.hashAt(s);
      if (isTombstone(previous, hash, region.empty)) tombstones.push(s);
      previous = hash;
    }
  }
  cells.freshOddSeq();
  // A repeat of the previous slot is a leftover of an unfinished shift: remove it the way a
  // delete removes an entry. From the last one back, so each removal leaves the earlier in place.
  const changed = new Set<number>();
  for (const s of tombstones.reverse()) {
    const last = editor.shiftEnd(s);
    const perBlock = header.layout.slotsPerBlock;
    for (let b = Math.floor(s / perBlock); b <= Math.floor(last / perBlock); b++) changed.add(b);
    editor.remove(s, last);
  }
  const entries = scan.entries;
  for (let b = first; b < first + count; b++) changed.add(b);
  for (const b of changed) bracket.writeChecksum(b);
  if (cells.retired) cells.unretire();
  cells.setEntries(entries);
  cells.clearDirty();
  cells.bumpSeq();
}

