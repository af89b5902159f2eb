/**
 * A reader's open beside a rename over its path (src/os/mapping.ts openMapping): the watcher
 * (native/mapping.c) may mark the new mapping moved, and map its zero page over the header,
 * while open still validates that header. Open must then open the path again, not call the file
 * "not an idx index" (seen once in the processes test of an index rebuilt again and again).
 */
import { renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../src/index";
import { headerOf, openMapping } from "../src/os/mapping";
import { ADDON, makeTempDir, removeTempDirs } from "./helpers/tmp";

let dir: string;
beforeAll(() => {
  dir = makeTempDir("idx-open-race-");
});
afterAll(removeTempDirs);

const sleep = new Int32Array(new SharedArrayBuffer(4));

describe.runIf(ADDON)("open beside a rename over the path", () => {
  it("a mapping marked moved while its header is checked is opened again from the path", async () => {
    const path = join(dir, "ix.idx");
    const next = join(dir, "next.idx");
    await build([[1, 10]], path, { sync: false });
    await build([[1, 20]], next, { sync: false });
    const nextIno = statSync(next).ino;
    let checks = 0;
    let sawMoved = false;
    const mapping = openMapping(path, { shared: true }, (m) => {
      checks++;
      if (checks === 1) {
        // The rename lands after open's fstat; the watcher looks at every path every 100 ms.
        renameSync(next, path);
        for (let waited = 0; m.state() === 0 && waited < 3000; waited += 10) Atomics.wait(sleep, 0, 0, 10);
        sawMoved = m.state() !== 0;
      }
      headerOf(m, path);
    });
    try {
      expect(sawMoved).toBe(true);
      expect(checks).toBe(2);
      expect(mapping.ino).toBe(nextIno);
      expect(mapping.state()).toBe(0);
    } finally {
      mapping.release();
    }
  });
});
