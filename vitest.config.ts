import { BaseSequencer, type TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

/**
 * The Python suite (three pytest runs, minutes) first, then vitest's own order: without a cache
 * (a fresh clone, CI) vitest runs larger files first, which put this small file last and left
 * one core idle while it ran alone.
 */
const FIRST = ["test/python.test.ts", "test/package.test.ts", "test/python-wheels.test.ts"];

class LongFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = FIRST.findIndex((name) => f.moduleId.endsWith(name));
      return i < 0 ? FIRST.length : i;
    };
    return sorted.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Several tests spawn node processes; two cores run them slowly but surely.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    sequence: { sequencer: LongFirst },
    // Two files at a time (vitest's default on two cores is one): most tests wait on child
    // processes, pipes and fsync, and one worker left a core idle (a CI run used 1.1 cores).
    maxWorkers: 2,
    minWorkers: 1,
  },
});
