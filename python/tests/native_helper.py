"""What every lookup entry point answers on a set of index files, as JSON: test_native runs it in
this process (the C extension) and in a child with IDXMAP_PURE=1 (the pure package), and
compares. Every value that reaches the extension is here: keys of every type and range, damaged
and crafted files, a closed index.

    python native_helper.py FILE...     # prints the answers as one JSON document
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from typing import Any, Callable, Dict, List

import idxmap
from idxmap.vectorized import numpy_or_none


def outcome(f: Callable[[], Any]) -> Any:
    """f()'s answer as JSON: its value, or its exception's type, code and message."""
    try:
        v = f()
    except idxmap.IdxError as e:
        return ["IdxError", type(e).__name__, e.code, str(e)]
    except Exception as e:  # noqa: BLE001 - KeyError, TypeError...: compared by type and args
        return ["error", type(e).__name__, repr(e.args)]
    np = numpy_or_none()
    if isinstance(v, tuple) and len(v) == 2:  # get_many
        return ["many", [int(x) for x in v[0]], [bool(x) for x in v[1]], type(v[0]).__name__, str(getattr(v[0], "dtype", ""))]
    if np is not None and isinstance(v, np.generic):
        v = v.item()
    return ["value", repr(v)]


def single_keys(file_keys: List[int]) -> List[Any]:
    """Keys of every type a caller may pass to ix[k], get and in."""
    np = numpy_or_none()
    keys: List[Any] = list(file_keys[:200])
    keys += [0, 1, 2, 7, 0xFFFFFFFE, 0xFFFFFFFF, 1 << 32, (1 << 32) + 7, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1 << 64]
    keys += [-1, -(1 << 64), -(1 << 70), 1 << 100, True, False, 1.0, 7.0, 1.5, float("nan"), Fraction(7), "1", b"1", None]
    keys += [(1,), 3 + 0j]
    if np is not None:
        keys += [np.uint32(7), np.int64(-1), np.uint64((1 << 64) - 1), np.float64(7), np.bool_(True)]
    return keys


def many_inputs(file_keys: List[int]) -> List[Any]:
    """Inputs of every kind for get_many, good and bad."""
    import array

    np = numpy_or_none()
    good = file_keys[:300] + [0, 5, 0xFFFFFFFF]
    small = [k for k in good if k <= 0xFFFFFFFF]
    inputs: List[Any] = [good, tuple(good), iter(good), [], array.array("I", small), array.array("L", small), array.array("Q", good)]
    inputs += [[1 << 32, 1], [(1 << 64) - 1], [1 << 64], [-1], [True], [1.0], ["1"], [None], 7, None, [[1]]]
    if np is not None:
        inputs += [np.array(small, dtype=np.uint32), np.array(good, dtype=np.uint64), np.array(small, dtype=np.int64)]
        inputs += [np.array(small, dtype=np.uint32)[::2], np.array([[1, 2]], dtype=np.uint32), np.array([-1]), np.array([1.0])]
    return inputs


def answers(path: str) -> Dict[str, Any]:
    try:
        ix = idxmap.open(path)
    except idxmap.IdxError as e:
        return {"open": [type(e).__name__, e.code, str(e)]}
    try:
        file_keys = sorted(k for k, _ in ix.items())
    except idxmap.IdxError as e:
        file_keys = []
    out: Dict[str, Any] = {"open": "ok", "keys": file_keys[:50]}
    keys = single_keys(file_keys)
    out["getitem"] = [outcome(lambda: ix[k]) for k in keys]
    out["get"] = [outcome(lambda: ix.get(k, "default")) for k in keys]
    out["get1"] = [outcome(lambda: ix.get(k)) for k in keys]
    out["in"] = [outcome(lambda: k in ix) for k in keys]
    out["get_many"] = [outcome(lambda: ix.get_many(i)) for i in many_inputs(file_keys)]
    out["get_many_missing"] = [outcome(lambda: ix.get_many(file_keys[:20] + [3], missing=m)) for m in (9, -1, 1 << 32, (1 << 64) - 1, 1.0)]
    # Wrong arity: a TypeError either way (Python words its message by the function's kind).
    out["bad_calls"] = [outcome(f)[:2] for f in (lambda: ix.get(), lambda: ix.get(1, 2, 3), lambda: ix[[1]])]
    ix.close()
    out["closed"] = [outcome(lambda: ix[1]), outcome(lambda: ix.get(1)), outcome(lambda: 1 in ix), outcome(lambda: ix[-1]), outcome(lambda: ix.get_many([1]))]
    return out


def answers_of(paths: List[str]) -> Dict[str, Any]:
    return {p: answers(p) for p in paths}


def main(paths: List[str]) -> None:
    json.dump(answers_of(paths), sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
