/** Running the real `idx` command (bin/idx.js over the tsc build in dist/) as a user would. */
import { spawnSync, SpawnSyncOptions } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";

export const ROOT = join(__dirname, "..", "..");
export const BIN = join(ROOT, "bin", "idx.js");
/** The package's main: the bundle of dist/ (scripts/bundle.js) that users load. */
export const DIST_INDEX = join(ROOT, "dist", "idx.js");

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `idx ARGS...` with optional stdin; waits for it to exit. */
export function runIdx(args: string[], options: { input?: string | Buffer; cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const spawnOptions: SpawnSyncOptions = {
    cwd: options.cwd ?? ROOT,
    input: options.input ?? "",
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, IDX_DEBUG: "", ...options.env },
  };
  const r = spawnSync(process.execPath, [BIN, ...args], spawnOptions);
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The CLI runs the compiled dist/, not src/: refuse to test a stale or missing build rather
 * than report results for code that is not the code under review.
 */
export function requireFreshBuild(): void {
  const main = join(ROOT, "dist", "cli", "main.js");
  if (!existsSync(main) || !existsSync(DIST_INDEX)) {
    throw new Error("dist/ is missing: run `npm run build` (or `npm test`) before these tests");
  }
  const src = newestMtime(join(ROOT, "src"));
  if (src > newestMtime(join(ROOT, "dist")) || src > statSync(DIST_INDEX).mtimeMs) {
    throw new Error("dist/ is older than src/: run `npm run build` (or `npm test`) before these tests");
  }
}

/** An error report as the CLI promises it: plain lines on stderr, no stack trace. */
export function expectPlainError(r: RunResult, maxLines = 2): void {
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  expect(lines.length, `stderr: ${r.stderr}`).toBeGreaterThanOrEqual(1);
  expect(lines.length, `stderr: ${r.stderr}`).toBeLessThanOrEqual(maxLines);
  expect(r.stderr).not.toMatch(/^\s{4}at /m);
  expect(r.stderr).not.toMatch(/\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/);
}
