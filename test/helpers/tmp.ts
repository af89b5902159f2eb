/** Temp directories for tests, and the temp-file names the builder must never leave behind. */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** A fresh directory under os.tmpdir(); removed by {@link removeTempDirs}. */
export function makeTempDir(prefix = "idx-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** Removes every directory made by {@link makeTempDir} in this test file. Call from afterAll. */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Files in `dir` that look like a builder's temp file: `.<base>.<pid>.<hex>.tmp`, or more
 * loosely any dot-file ending in .tmp (so a renamed scheme still counts as litter).
 */
export function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => /^\..*\.tmp$/.test(name) || /\.tmp$/.test(name));
}

/** True when the native addon is in use (npm test also runs every file with IDX_NO_NATIVE=1). */
export const ADDON = !process.env.IDX_NO_NATIVE;
