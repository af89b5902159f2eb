/**
 * spec/FORMAT.md §11.7 "The header": read beside a writer, a copy of the header stands when the
 * same even seq brackets it; beside a stopped writer (its lock held, seq odd for 1 s) only when
 * a second copy agrees byte for byte, as a probe stands only when a second probe agrees.
 */
import { describe, expect, it } from "vitest";
import { NO_DEAD_SEQ, SeqSource, stableHeader } from "../src/core/protocol";

describe("§11.7 the header beside a stopped writer", () => {
  it("a copy read under a held lock and an odd seq stands only once a second copy agrees", () => {
    const file: SeqSource = { seq: () => 7, dead: () => NO_DEAD_SEQ, writerGone: () => false, markDead: () => {} };
    const copies = [Uint8Array.of(1, 1), Uint8Array.of(2, 2)];
    const started = performance.now();
    let reads = 0;
    // Alternating copies (a writer that resumes between reads) for 1.3 s, then a still one.
    const read = () => {
      reads++;
      return performance.now() - started < 1300 ? copies[reads % 2] : Uint8Array.of(3, 3);
    };
    const got = stableHeader(read, file);
    expect([...got]).toEqual([3, 3]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1300);
  });
});
