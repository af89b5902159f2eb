import { expect } from "vitest";
import { IdxError } from "../../src/index";

/** The IdxError that `f` throws; fails the test if it throws anything else or nothing. */
export function errorOf(f: () => unknown): IdxError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(IdxError);
    return e as IdxError;
  }
  throw new Error("expected an IdxError");
}
