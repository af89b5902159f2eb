/**
 * A bounded, seeded fuzz of damaged files (helpers/fuzz.js) in every test run: a few hundred
 * mutations of a multi-block index, each opened, read, iterated, verified and written. The long
 * run is scripts/fuzz.js.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "../src/index";
import { DIST_INDEX, requireFreshBuild } from "./helpers/cli";
import { makeTempDir, removeTempDirs } from "./helpers/tmp";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { fuzz } = require("./helpers/fuzz.js") as {
  fuzz(dist: string, good: string, dir: string, cases: number, seed: number): { classes: Record<string, number>; violations: string[] };
};

let dir: string;
let good: string;

beforeAll(async () => {
  requireFreshBuild();
  dir = makeTempDir("idx-fuzz-");
  good = join(dir, "good.idx");
  await build(Array.from({ length: 3000 }, (_, i) => [(i * 2654435761) >>> 0, i] as [number, number]), good, { sync: false });
});
afterAll(removeTempDirs);

describe("damaged files never crash, hang, answer a non-uint32 or get laundered by the writer", () => {
  for (const seed of [1, 2, 3]) {
    it(`250 mutations, seed ${seed}`, () => {
      const { classes, violations } = fuzz(DIST_INDEX, good, dir, 250, seed);
      expect(violations).toEqual([]);
      const total = Object.values(classes).reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThan(250);
    });
  }
});
