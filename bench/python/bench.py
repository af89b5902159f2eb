#!/usr/bin/env python3
"""What an idx index costs a Python process, beside a dict and the seed's array table.

    python bench/python/bench.py [--n 1500000 10000000] [--out bench/python/RESULTS.md]

Run it with a Python that has idxmap and numpy installed (scripts/python-test.sh leaves one in
python/.venvs/with-numpy). For each n it writes the data once (random uint32 keys, a bijection of
the row number, and random values) to bench/python/work/, then measures, each in a new process:

- memory held: a dict built from the pairs, the seed's array table (bench/python/seed_table.py)
  and an open idxmap.Index: Python's allocations (tracemalloc) and the process's resident set
  (RSS: anonymous, and file pages of the mapping) after the structure is ready, and for the
  index also after a million lookups touched its pages;
- time to ready in a new process: from the interpreter's start to the first answer, for a dict
  rebuilt from a file (binary columns, or a pickle) and for an index opened (median of 7);
- lookups: ns per lookup of dict[k], ix[k], ix.get_many (per key, 65,536 keys a call) and the
  seed table's t[k], over random present keys (median of 5 passes).

The results table and the exact command go to --out (bench/python/RESULTS.md).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"


# ---- measurement helpers (also used in child processes) ----


def rss() -> Dict[str, int]:
    """The resident set now, in bytes: total, anonymous and file-backed (Linux /proc)."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            for name in ("VmRSS", "RssAnon", "RssFile"):
                if line.startswith(name + ":"):
                    out[name] = int(line.split()[1]) * 1024
    return out


def data_paths(n: int) -> Dict[str, Path]:
    d = WORK / f"n{n}"
    return {
        "dir": d,
        "keys": d / "keys.u32",
        "values": d / "values.u32",
        "pickle": d / "dict.pickle",
        "index": d / "index.idx",
        "probe": d / "probe.u32",
    }


def make_data(n: int) -> None:
    import numpy as np

    import idxmap
    from idxmap.vectorized import hash32_array

    p = data_paths(n)
    p["dir"].mkdir(parents=True, exist_ok=True)
    if all(p[k].exists() for k in ("keys", "values", "pickle", "index", "probe")):
        return
    rng = np.random.default_rng(n)
    keys = hash32_array(np.arange(n, dtype=np.uint32) ^ np.uint32(0x5BD1E995))  # distinct, random-looking
    # 1 .. 2^32-2: the seed table takes 0 and 2^32-1 for its own markers.
    values = rng.integers(1, 2**32 - 1, n, dtype=np.uint64).astype(np.uint32)
    keys.tofile(p["keys"])
    values.tofile(p["values"])
    probe = keys[rng.integers(0, n, 1_000_000)]
    probe.tofile(p["probe"])
    import pickle

    with open(p["pickle"], "wb") as f:
        pickle.dump(dict(zip(keys.tolist(), values.tolist())), f, protocol=pickle.HIGHEST_PROTOCOL)
    idxmap.build((keys, values), p["index"])


def load_columns(n: int):
    from array import array

    p = data_paths(n)
    keys, values = array("I"), array("I")
    with open(p["keys"], "rb") as f:
        keys.fromfile(f, n)
    with open(p["values"], "rb") as f:
        values.fromfile(f, n)
    return keys, values


class _Pairs:
    def __init__(self, keys, values):
        self.keys, self.values = keys, values

    def items(self):
        return zip(self.keys, self.values)


# ---- children ----


def mapping_rss(path: Path) -> int:
    """The resident bytes of this process's mappings of ``path`` (/proc/self/smaps)."""
    total = 0
    inside = False
    real = os.path.realpath(path)
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if fields and "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:
                inside = len(fields) >= 6 and fields[-1] == real
            elif inside and fields[0] == "Rss:":
                total += int(fields[1]) * 1024
    return total


def child_memory(kind: str, n: int, traced: bool) -> Dict[str, Any]:
    """Builds (or opens) one structure; measures Python's allocations with tracemalloc when
    ``traced``, else the resident set (tracemalloc's own bookkeeping would inflate it)."""
    import tracemalloc

    keys, values = load_columns(n)
    probe = load_columns_probe(n)
    gc.collect()
    base = rss()
    if traced:
        tracemalloc.start()
    t = time.perf_counter()
    if kind == "dict":
        obj: Any = dict(zip(keys, values))
    elif kind == "seed":
        sys.path.insert(0, str(HERE))
        from seed_table import HashTable

        obj = HashTable(_Pairs(keys, values))
    else:
        import idxmap

        obj = idxmap.open(data_paths(n)["index"])
    built = time.perf_counter() - t
    out: Dict[str, Any] = {"kind": kind, "seconds": built, "len": len(obj)}
    if traced:
        out["traced"], out["traced_peak"] = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return out
    gc.collect()
    held = rss()
    out.update(rss=held["VmRSS"] - base["VmRSS"], anon=held["RssAnon"] - base["RssAnon"], file=held["RssFile"] - base["RssFile"])
    if kind == "index":
        out["mapped_resident"] = mapping_rss(data_paths(n)["index"])
        for k in probe.tolist():
            obj[k]
        gc.collect()
        touched = rss()
        out["anon_after_lookups"] = touched["RssAnon"] - base["RssAnon"]
        out["mapped_resident_after_lookups"] = mapping_rss(data_paths(n)["index"])
    return out


def load_columns_probe(n: int):
    import numpy as np

    return np.fromfile(data_paths(n)["probe"], dtype=np.uint32)


READY_SCRIPTS = {
    "dict-columns": """
from array import array
keys, values = array("I"), array("I")
with open({keys!r}, "rb") as f: keys.fromfile(f, {n})
with open({values!r}, "rb") as f: values.fromfile(f, {n})
m = dict(zip(keys, values))""",
    "dict-pickle": """
import pickle
with open({pickle!r}, "rb") as f: m = pickle.load(f)""",
    "index": """
import idxmap
m = idxmap.open({index!r})""",
}


def ready_once(kind: str, n: int, probe_key: int) -> Dict[str, float]:
    """A new interpreter that makes the map ready and answers one lookup: its wall time, and the
    time its script took (from its first statement)."""
    p = data_paths(n)
    body = READY_SCRIPTS[kind].format(n=n, **{k: str(v) for k, v in p.items()})
    code = f"import time\nt = time.perf_counter()\n{body}\nv = m[{probe_key}]\nprint(time.perf_counter() - t)"
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return {"wall": wall, "in_process": float(r.stdout)}


def child_lookups(n: int) -> Dict[str, Any]:
    import numpy as np

    import idxmap

    keys, values = load_columns(n)
    probe = load_columns_probe(n)
    probe_list = probe.tolist()
    out: Dict[str, Any] = {}

    def per_key(f, count: int, passes: int = 5) -> float:
        times = []
        for _ in range(passes):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return statistics.median(times) / count * 1e9

    d = dict(zip(keys, values))

    def dict_loop() -> None:
        for k in probe_list:
            d[k]

    out["dict[k]"] = per_key(dict_loop, len(probe_list))
    del d
    gc.collect()
    ix = idxmap.open(data_paths(n)["index"])
    ix.get_many(probe)  # the pages once, as the dict's were when built

    def ix_loop() -> None:
        for k in probe_list:
            ix[k]

    out["ix[k]"] = per_key(ix_loop, len(probe_list))

    def ix_get() -> None:
        get = ix.get
        for k in probe_list:
            get(k)

    out["ix.get(k)"] = per_key(ix_get, len(probe_list))

    def many() -> None:
        for a in range(0, probe.size, 65536):
            ix.get_many(probe[a : a + 65536])

    out["ix.get_many (65,536 a call)"] = per_key(many, probe.size)

    def many_all() -> None:
        ix.get_many(probe)

    out["ix.get_many (all 1 M in one call)"] = per_key(many_all, probe.size)
    if n <= 2_000_000:
        sys.path.insert(0, str(HERE))
        from seed_table import HashTable

        t = HashTable(_Pairs(keys, values))
        few = probe_list[:200_000]

        def seed_loop() -> None:
            for k in few:
                t[k]

        out["seed table t[k]"] = per_key(seed_loop, len(few), passes=3)
    return out


# ---- the parent ----


def run_child(*args: str) -> Dict[str, Any]:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"child {args} failed: {r.stderr}")
    out = json.loads(r.stdout)
    out["wall"] = wall
    return out


def node_get_many(n: int) -> Any:
    """Node's getMany on the same index and keys, for the "factor of Node" column."""
    root = HERE.parent.parent
    script = f"""
const {{ IdIndex }} = require({json.dumps(str(root / 'dist' / 'index.js'))});
const fs = require('fs');
const raw = fs.readFileSync({json.dumps(str(data_paths(n)['probe']))});
const keys = new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4);
const ix = IdIndex.open({json.dumps(str(data_paths(n)['index']))});
const values = new Uint32Array(4096), found = new Uint8Array(4096);
const pass = () => {{ for (let a = 0; a < keys.length; a += 4096) ix.getMany(keys.subarray(a, a + 4096), values, found); }};
for (let i = 0; i < 3; i++) pass();
const t = [];
for (let i = 0; i < 5; i++) {{ const s = process.hrtime.bigint(); pass(); t.push(Number(process.hrtime.bigint() - s)); }}
t.sort((a, b) => a - b);
let single = [];
for (let i = 0; i < 5; i++) {{ const s = process.hrtime.bigint(); for (let j = 0; j < keys.length; j++) ix.get(keys[j]); single.push(Number(process.hrtime.bigint() - s)); }}
single.sort((a, b) => a - b);
process.stdout.write(JSON.stringify({{ getMany: t[2] / keys.length, get: single[2] / keys.length }}));
"""
    try:
        r = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=600)
        return json.loads(r.stdout)
    except Exception:  # noqa: BLE001 - Node is optional for this script
        return None


def mb(b: float) -> str:
    return f"{b / 1e6:,.1f} MB"


def measure(n: int, seed_10m: bool) -> Dict[str, Any]:
    make_data(n)
    probe_key = int(load_columns_probe(n)[0])
    res: Dict[str, Any] = {"n": n, "file_bytes": data_paths(n)["index"].stat().st_size}
    kinds = ["dict", "index"] + (["seed"] if n <= 2_000_000 or seed_10m else [])
    res["memory"] = {k: run_child("memory", k, str(n), "rss") for k in kinds}
    for k in kinds:
        res["memory"][k].update({a: b for a, b in run_child("memory", k, str(n), "traced").items() if a.startswith("traced")})
    ready: Dict[str, List[Dict[str, float]]] = {k: [] for k in READY_SCRIPTS}
    empty = []
    for _ in range(7):  # rounds of one of each, so all of them meet the same noise
        for k in ready:
            ready[k].append(ready_once(k, n, probe_key))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        empty.append(time.perf_counter() - t)
    res["ready"] = {
        k: {"in_process": statistics.median(r["in_process"] for r in v), "wall": statistics.median(r["wall"] for r in v)}
        for k, v in ready.items()
    }
    res["python_start"] = statistics.median(empty)
    res["lookups"] = run_child("lookups", str(n))
    res["node"] = node_get_many(n)
    return res


def report(results: List[Dict[str, Any]], command: str, started: float) -> str:
    import numpy

    import idxmap

    lines = [
        "# idxmap (Python) benchmark results",
        "",
        "Written by `bench/python/bench.py`; what each figure is: the docstring at its top.",
        "",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}; took {time.perf_counter() - started:.0f} s",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}; "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, idxmap {idxmap.__version__}",
        f"- Load average (1 min) at the end: {os.getloadavg()[0]:.2f} (the machine is shared: figures are noisy)",
        "- Data: random uint32 keys (distinct), random values; lookups of 1,000,000 random present keys.",
        "",
    ]
    for r in results:
        n = r["n"]
        m = r["memory"]
        lines += [f"## n = {n:,}", "", f"Index file: {r['file_bytes']:,} bytes ({r['file_bytes'] / n:.2f} bytes/entry).", ""]
        lk, rd = r["lookups"], r["ready"]
        summary = (
            f"In short: a `dict` holds {mb(m['dict']['rss'])} of the process's own memory and takes "
            f"{rd['dict-pickle']['wall']:.1f} s (from a pickle) to be ready in a new process; an open index holds "
            f"{mb(m['index']['anon'])} of its own and answers its first lookup {rd['index']['wall'] * 1e3:.0f} ms after the "
            f"process starts. `ix[k]` costs {lk['ix[k]'] / lk['dict[k]']:.1f}x `dict[k]`; `get_many` {lk['ix.get_many (65,536 a call)']:.0f} ns a key"
        )
        if r.get("node"):
            summary += f", {lk['ix.get_many (65,536 a call)'] / r['node']['getMany']:.1f}x Node's `getMany` in the same run"
        lines += [summary + ".", ""]
        lines += [
            "### Memory held by the process",
            "",
            "| structure | Python allocations (tracemalloc) | RSS growth | of which anonymous (the process's own) | of which the index's mapped pages | bytes/entry (RSS) | built or opened in |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        names = {"dict": "`dict` of int -> int", "seed": "seed's array table (`array('I')` x 2)", "index": "`idxmap.open` (just opened)"}
        for k in ("dict", "seed", "index"):
            if k not in m:
                continue
            x = m[k]
            mapped = mb(x["mapped_resident"]) if k == "index" else "-"
            lines.append(
                f"| {names[k]} | {mb(x['traced'])} | {mb(x['rss'])} | {mb(x['anon'])} | {mapped} | {x['rss'] / n:.2f} | {x['seconds'] * 1e3:,.1f} ms |"
            )
        x = m["index"]
        lines.append(
            f"| `idxmap.open`, after 1 M `ix[k]` of random keys | | | {mb(x['anon_after_lookups'])} | {mb(x['mapped_resident_after_lookups'])} | | |"
        )
        if "seed" not in m:
            lines.append("| seed's array table | not measured at this n (pass --seed-10m: its Python-level inserts take minutes) | | | | | |")
        lines += [
            "",
            "RSS is measured in a process without tracemalloc (whose bookkeeping would inflate it), the allocations in another. "
            "The index's mapped pages are its file's, in the page cache: shared by every process that maps the file, "
            "dropped by the kernel under memory pressure and read back on use; a `dict`'s memory is each process's own.",
        ]
        lines += [
            "",
            "",
            "### Time to a first answer in a new process (median of 7)",
            "",
            "| how | process wall time | in the script (from its first statement) |",
            "| --- | ---: | ---: |",
        ]
        rd = r["ready"]
        lines.append(f"| (`python -c pass`: the interpreter's start and exit alone) | {r['python_start'] * 1e3:,.1f} ms | |")
        for k, label in (
            ("dict-columns", "`dict` rebuilt from binary key and value columns (`array.fromfile`, `dict(zip(...))`)"),
            ("dict-pickle", "`dict` loaded from a pickle"),
            ("index", "`idxmap.open` and one lookup"),
        ):
            lines.append(f"| {label} | {rd[k]['wall'] * 1e3:,.1f} ms | {rd[k]['in_process'] * 1e3:,.1f} ms |")
        lines += ["", "### Lookups, ns per lookup (random present keys; median of 5 passes)", "", "| lookup | ns |", "| --- | ---: |"]
        for k, v in r["lookups"].items():
            if k != "wall":
                lines.append(f"| `{k}` | {v:,.0f} |")
        if r.get("node"):
            lines.append(f"| Node idx `getMany` (4,096 a call), same file and keys, for reference | {r['node']['getMany']:,.0f} |")
            lines.append(f"| Node idx `get`, same file and keys, for reference | {r['node']['get']:,.0f} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1_500_000, 10_000_000])
    ap.add_argument("--out", default=str(HERE / "RESULTS.md"))
    ap.add_argument("--seed-10m", action="store_true", help="also build the seed table past 2 M pairs (slow)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        mode, *rest = a.child
        if mode == "memory":
            print(json.dumps(child_memory(rest[0], int(rest[1]), rest[2] == "traced")))
        elif mode == "lookups":
            print(json.dumps(child_lookups(int(rest[0]))))
        return
    started = time.perf_counter()
    command = " ".join(["python", "bench/python/bench.py", *sys.argv[1:]])
    results = []
    for n in a.n:
        print(f"n = {n:,} ...", file=sys.stderr, flush=True)
        results.append(measure(n, a.seed_10m))
        Path(WORK / "results.json").write_text(json.dumps(results, indent=1))
    text = report(results, command, started)
    Path(a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
