/**
 * Checks of the values a caller passes to the public API, in one place so every path (JS or
 * native, any batch size) refuses the same values with the same IdxError.
 */
import { IdxError } from "./errors";

/** How a bad argument reads in a message: its type, and its value when short. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "undefined") return String(v);
  if (typeof v === "bigint") return `${v}n (a bigint)`;
  if (typeof v === "symbol") return "a symbol";
  if (typeof v === "function") return "a function";
  if (Array.isArray(v)) return `an Array of ${v.length}`;
  if (ArrayBuffer.isView(v)) {
    const name = (v as object).constructor?.name ?? "typed array";
    return `${/^[AEIO]/.test(name) ? "an" : "a"} ${name} of ${(v as { length?: number }).length ?? (v as DataView).byteLength}`;
  }
  return `an object (${(v as object).constructor?.name ?? "Object"})`;
}

function count(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? "" : "s"}`;
}

export function invalid(what: string, path?: string, hint?: string): IdxError {
  return new IdxError("ERR_IDX_INVALID_ARGUMENT", what, { path, hint });
}

/** A uint32 number: an integer from 0 to 4294967295 (so not a string, bigint, NaN or fraction). */
export function isUint32(v: unknown): v is number {
  return typeof v === "number" && (v >>> 0) === v;
}

export function checkUint32(name: string, v: unknown, path?: string): number {
  if (!isUint32(v)) throw invalid(`${name} must be an integer from 0 to 4294967295, not ${describeValue(v)}`, path);
  return v;
}

export function checkUint32Array(name: string, v: unknown, minLength: number, path?: string): Uint32Array {
  if (!(v instanceof Uint32Array)) {
    throw invalid(`${name} must be a Uint32Array, not ${describeValue(v)}`, path,
      "Copy other arrays into one first: Uint32Array.from(array).");
  }
  if (v.length < minLength) throw invalid(`${name} holds ${count(v.length, "element")}, fewer than the ${count(minLength, "key")}`, path);
  return v;
}

export function checkUint8Array(name: string, v: unknown, minLength: number, path?: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw invalid(`${name} must be a Uint8Array, not ${describeValue(v)}`, path);
  if (v.length < minLength) throw invalid(`${name} holds ${count(v.length, "element")}, fewer than the ${count(minLength, "key")}`, path);
  return v;
}

export function checkPath(name: string, v: unknown): string {
  if (typeof v !== "string" || v.length === 0 || v.includes("\0")) {
    throw invalid(`${name} must be a file path (a non-empty string without NUL bytes), not ${describeValue(v)}`);
  }
  return v;
}

/** A number of milliseconds from 0 up (a wait, a timeout). */
export function checkMillis(name: string, v: unknown): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw invalid(`${name} must be a number of milliseconds (0 or more), not ${describeValue(v)}`);
  }
  return v;
}

/** An options argument: undefined, or a plain object. */
export function checkOptions<T extends object>(name: string, v: unknown): Partial<T> {
  if (v === undefined) return {};
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw invalid(`${name} must be an object, not ${describeValue(v)}`);
  return v as Partial<T>;
}
