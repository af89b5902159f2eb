"""``python -m idxmap`` against ``node bin/idx.js`` on the same files and input: the same
stdout, the same exit status, and the same error lines (but for the program's name)."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import idxmap
from idxmap import cli

from conftest import ESCAPED_KEY, FIXTURES, ROOT, run_idx, with_bit_flipped


# The package this process imports, for child processes (installed, or a source tree on sys.path).
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(idxmap.__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")])}


def run_py(args: List[str], input: bytes = b"") -> Tuple[int, str, str]:
    """The Python command, in this process (the code path under test)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(args, stdin=io.BytesIO(input), stdout=out)
    return status, out.getvalue(), err.getvalue()


def normalized(stderr: str) -> str:
    """An error report with the program's own names taken out."""
    stderr = re.sub(r"^(idx|idxmap): ", "PROG: ", stderr, flags=re.M)
    # verify's advice on a damaged file names each side's own commands (test_verify reads it).
    stderr = re.sub(r"^To recover: .*", "To recover: ...", stderr, flags=re.M | re.S)
    return re.sub(r"Try '(idx|python -m idxmap) ", "Try 'PROG ", stderr)


_node_runs: Dict[Tuple[Tuple[str, ...], bytes], subprocess.CompletedProcess] = {}


def same(args: List[str], input: bytes = b"") -> Tuple[int, str, str]:
    # Node's answer once per command line: both code paths are compared with it.
    key = (tuple(args), input)
    if key not in _node_runs:
        _node_runs[key] = run_idx(*args, input=input)
    node = _node_runs[key]
    status, out, err = run_py(args, input)
    assert status == node.returncode, (args, err, node.stderr)
    assert out == node.stdout.decode(), args
    assert normalized(err) == normalized(node.stderr.decode()), args
    assert "Traceback" not in err
    return status, out, err


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.fixture(autouse=True)
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # paths as a user types them, relative to where idx runs


def test_info_text_and_json(tmp_path: Path, code_path: str) -> None:
    for name in ("one.idx", "v1/edited.idx", "empty.idx", "retired.idx"):
        f = rel(FIXTURES / name)
        same(["info", "--json", f])
        node = run_idx("info", f).stdout.decode().splitlines()
        status, out, _ = run_py(["info", f])
        ours = out.splitlines()
        # 12 lines (widths among them, for every version), and a 13th before the last when a
        # writer left the file for the next to repair.
        assert status == 0 and len(ours) == len(node) == (13 if name == "retired.idx" else 12)
        assert ours[2] == "widths           32-bit keys, 32-bit values"
        # The last line says how the file is read: Node's addon, Python's mmap.
        assert ours[:-1] == node[:-1] and ours[-1] == "access           mapped (mmap)", name


def test_info_rounds_as_javascript_does(tmp_path: Path) -> None:
    # 14 keys (capacity 16), 13 deleted in place by idx: load 1/16 = 6.25%, a tie that
    # JavaScript's toFixed(1) rounds up (6.3) and Python's format to even (6.2).
    f = tmp_path / "tie.idx"
    assert run_idx("build", "-", "-o", str(f), "-q", input="".join(f"{k} {k}\n" for k in range(14)).encode()).returncode == 0
    assert run_idx("del", str(f), *map(str, range(1, 14))).returncode == 0
    node = run_idx("info", str(f)).stdout.decode()
    assert "load             6.3% (entries / capacity)" in node
    status, out, _ = run_py(["info", str(f)])
    assert out.splitlines()[:-1] == node.splitlines()[:-1]
    same(["info", "--json", str(f)])
    assert cli.to_fixed(0.125, 2) == "0.13" and cli.to_fixed(6.25, 1) == "6.3" and cli.to_fixed(2.0, 2) == "2.00"
    numbers = [212.0, 0.5, 1 / 3, 1e21, 1.5e-7, 123456789.125, 2.0**53, 0.0000015, 22.333333333333332, 1e-7, 123e20]
    assert [cli.js_number(x) for x in numbers] == node_strings(numbers)


def node_strings(numbers: List[float]) -> List[str]:
    from conftest import node_bin

    script = f"process.stdout.write(JSON.stringify([{','.join(map(repr, numbers))}].map(String)))"
    return json.loads(subprocess.run([node_bin(), "-e", script], capture_output=True, text=True).stdout)


def test_dump(code_path: str) -> None:
    for name in ("v1/edited.idx", "interrupted.idx", "blocks.idx", "empty.idx"):
        same(["dump", rel(FIXTURES / name)])


def test_dump_binary(code_path: str) -> None:
    # Little-endian key then value, 8 bytes a pair for 32-bit keys and values, as idx writes them.
    for name in ("v1/edited.idx", "edges.idx", "blocks.idx", "empty.idx"):
        node = run_idx("dump", "--binary", rel(FIXTURES / name))
        status, out, err = run_py(["dump", "--binary", rel(FIXTURES / name)])
        assert (status, out.encode("latin-1"), err) == (node.returncode, node.stdout, node.stderr.decode()), name


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad")


def test_verify(bad_files: Path, code_path: str) -> None:
    tmp_path = bad_files
    for name in ("one.idx", "interrupted.idx", "retired.idx", "v1/interrupted.idx"):
        assert same(["verify", rel(FIXTURES / name)])[0] == 0
    damaged = tmp_path / "damaged.idx"
    damaged.write_bytes(with_bit_flipped((FIXTURES / "cluster.idx").read_bytes(), 8 * 200 + 3))
    text = tmp_path / "text.idx"
    text.write_text("42 7\n")
    empty = tmp_path / "empty.idx"
    empty.write_bytes(b"")
    assert same(["verify", str(damaged)])[0] == 1
    for f in (text, empty):
        assert same(["verify", str(f)])[0] == 2
    err = same(["verify", str(damaged)])[2]
    assert "To recover: save what is readable with `python -m idxmap dump FILE > pairs.tsv`" in err
    for f in (tmp_path / "missing.idx", tmp_path):
        assert same(["verify", str(f)])[0] == 2


def test_a_named_pipe_is_refused_not_waited_on(tmp_path: Path, code_path: str) -> None:
    fifo = tmp_path / "pipe.idx"
    os.mkfifo(fifo)
    for args in (["get", str(fifo), "1"], ["get", str(fifo)], ["info", str(fifo)], ["verify", str(fifo)], ["dump", str(fifo)]):
        status, _, err = same(args)
        assert status == 2 and "it is not a regular file" in err, args


def test_get_keys_as_arguments(code_path: str) -> None:
    edges = rel(FIXTURES / "edges.idx")
    assert same(["get", edges, "0"])[1] == "4294967295\n"
    assert same(["get", edges, "5"]) == (1, "", "")
    assert same(["get", edges, "0", "5", str(ESCAPED_KEY), "4294967295", "--", "1"])[1] == "4294967295\n\n1\n0\n1\n"
    assert same(["get", rel(FIXTURES / "v1/edited.idx"), "2", "40"])[0] == 1
    assert same(["get", rel(FIXTURES / "interrupted.idx"), "2", "6"])[1] == "22\n7\n"


def test_get_keys_on_stdin(code_path: str) -> None:
    edges = rel(FIXTURES / "edges.idx")
    text = b"0\n\n# comment\n  5 \r\n857579651\r\n\t4294967295\n1"
    assert same(["get", edges], text)[1] == "4294967295\n\n\n\n1\n0\n1\n"
    assert same(["get", edges], b"")[1] == ""
    # A bad line: the answers before it, then the error naming the line.
    status, out, err = same(["get", edges], b"0\n1\nx1\n2\n")
    assert (status, out) == (2, "4294967295\n1\n")
    assert "<stdin>:3: key \"x1\" is not a decimal number" in err
    # A key wider than the file's 32-bit keys is absent; one over 2^64 - 1 is refused.
    assert same(["get", edges], b"1\n99999999999\n")[:2] == (1, "1\n\n")
    assert same(["get", edges], b"1\n18446744073709551616\n")[0] == 2
    # ... in a batch of get_many too (4096 keys or more).
    many = b"".join(b"%d\n" % (k if k % 2 else k << 33) for k in range(5000))
    assert same(["get", edges], many)[0] == 1
    same(["get", edges], b"1\n-4\n")
    # A line over 1024 bytes, non-ASCII text and binary: named the same way by both.
    assert same(["get", edges], b"1\n" + b"0" * 2000 + b"1\n")[0] == 2
    same(["get", edges], b"1\n" + b"0" * 100_000)
    same(["get", edges], "\u00e9\n".encode())
    same(["get", edges], b"1\n\x00\x01\n")
    same(["get", edges], b"\xef\xbb\xbf1\n")
    same(["get", edges, "9" * 300])


def test_get_many_keys_on_stdin(code_path: str) -> None:
    blocks = rel(FIXTURES / "blocks.idx")
    with idxmap.open(FIXTURES / "blocks.idx") as ix:
        present = list(ix)
    keys = present * 30 + list(range(5000))
    lines = "".join(f"{k}\n" for k in keys).encode()
    status, out, _ = same(["get", blocks], lines)
    assert status == 1 and out.count("\n") == len(keys)


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["bogus\x1b[31m" + "z" * 300],
        ["get"],
        ["get", "fixtures/one.idx", "--", "-x"],
        ["get", "fixtures/one.idx", "-x"],
        ["get", "fixtures/one.idx", "-1"],
        ["get", "fixtures/one.idx", "1.5"],
        ["get", "fixtures/one.idx", "18446744073709551616"],
        ["get", "fixtures/one.idx", "+5"],
        ["get", "fixtures/missing.idx", "1"],
        ["get", "fixtures", "1"],
        ["get", "README.md", "1"],
        ["dump", "a", "b"],
        ["info", "--jsn", "fixtures/one.idx"],
        ["info", "--json=1", "fixtures/one.idx"],
        ["info", "-jx", "fixtures/one.idx"],
        ["info", "fixtures/one.idx", "fixtures/edges.idx"],
        ["verify"],
        ["help", "foo"],
        ["help", "z" * 50],
    ],
)
def test_usage_and_input_errors(args: List[str]) -> None:
    status, out, err = same(args)
    assert status == 2
    if args:
        assert 1 <= len([l for l in err.splitlines() if l.strip()]) <= 2


def test_help_and_version() -> None:
    status, out, err = run_py([])
    assert (status, out) == (2, "") and err.startswith("idxmap: read and write idx indexes")
    status, out, _ = run_py(["--help"])
    assert status == 0 and "python -m idxmap get FILE KEY" in out
    status, out, _ = run_py(["get", "--help"])
    assert status == 0 and out.startswith("Usage: python -m idxmap get FILE KEY...")
    assert run_py(["--version"])[1] == f"idxmap {idxmap.__version__} (writes format 2.0 and 3.0, reads 1.x to 3.x)\n"
    status, _, err = run_py(["set", "x", "1"])  # a writing command of its own now
    assert status == 2 and err == "idxmap: set takes FILE KEY VALUE\nTry 'python -m idxmap set --help'.\n"
    for command in ("set", "del", "put", "compact"):
        status, out, _ = run_py([command, "--help"])
        assert status == 0 and out.startswith(f"Usage: python -m idxmap {command} FILE") and "--wait MS" in out
    status, out, err = run_py(["help", "info"])
    assert status == 0 and out.startswith("Usage: python -m idxmap info FILE")
    status, out, err = run_py(["help", "build"])  # idx's command, not ours: said as for `build`
    assert (status, out) == (2, "") and "use idx build" in err


def test_as_a_process_no_traceback(tmp_path: Path) -> None:
    """The real ``python -m idxmap``: exit codes and plain error lines from a separate process."""
    def run(*args: str, input: bytes = b"") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "idxmap", *args], input=input, capture_output=True, cwd=ROOT, timeout=60, env=ENV)

    r = run("get", "fixtures/one.idx", "42", "43")
    assert (r.returncode, r.stdout, r.stderr) == (1, b"7\n\n", b"")
    r = run("info", "README.md")
    assert r.returncode == 2 and r.stdout == b"" and b"Traceback" not in r.stderr
    assert r.stderr.decode().startswith("idxmap: README.md: is not an idx index")
    r = run("get", "fixtures/one.idx", input=b"42\n1\n")
    assert (r.returncode, r.stdout) == (1, b"7\n\n")
    # A reader of our output that goes away early is not an error.
    p = subprocess.Popen([sys.executable, "-m", "idxmap", "dump", "fixtures/blocks.idx"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=ENV)
    p.stdout.read(10)
    p.stdout.close()
    assert p.wait(timeout=60) == 0 and p.stderr.read() == b""


def run_py_process(args: List[str], shell_redirect: str = "", input: bytes = b"", stdout: Optional[int] = subprocess.PIPE) -> subprocess.CompletedProcess:
    """``python -m idxmap ARGS`` as a process, its stdout redirected by the shell when asked."""
    return subprocess.run(
        ["sh", "-c", f'"$0" -m idxmap "$@" {shell_redirect}', sys.executable, *args],
        input=input, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT, timeout=60, env=ENV,
    )


def run_idx_process(args: List[str], shell_redirect: str = "", input: bytes = b"") -> subprocess.CompletedProcess:
    from conftest import node_bin

    return subprocess.run(
        ["sh", "-c", f'"$0" bin/idx.js "$@" {shell_redirect}', node_bin(), *args],
        input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, timeout=60, env={**os.environ, "IDX_DEBUG": ""},
    )


OUTPUT_COMMANDS = [
    ["info", "fixtures/one.idx"],
    ["info", "--json", "fixtures/one.idx"],
    ["get", "fixtures/one.idx", "42"],
    ["get", "fixtures/one.idx", "42", "5"],
    ["get", "fixtures/one.idx"],
    ["dump", "fixtures/blocks.idx"],
    ["verify", "fixtures/one.idx"],
    ["--help"],
    ["--version"],
    ["help", "get"],
    ["get", "--help"],
]


@pytest.mark.parametrize("args", OUTPUT_COMMANDS)
def test_a_closed_stdout_is_written_to_as_dev_null(args: List[str]) -> None:
    # `>&-`: Python has no sys.stdout then; idx writes nowhere and succeeds.
    ours = run_py_process(args, ">&-", input=b"42\n")
    node = run_idx_process(args, ">&-", input=b"42\n")
    assert (ours.returncode, ours.stderr) == (node.returncode, b"") == (1 if "5" in args else 0, b"")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
@pytest.mark.parametrize("args", OUTPUT_COMMANDS)
def test_a_full_disk_under_stdout_is_said_as_idx_says_it(args: List[str]) -> None:
    # Python buffers stdout: a short output fails at the flush (at exit, unless the command
    # flushes), and must not end in a traceback or "Exception ignored".
    ours = run_py_process(args, "> /dev/full", input=b"42\n")
    node = run_idx_process(args, "> /dev/full", input=b"42\n")
    assert ours.stderr.decode() == "idxmap: cannot write to standard output: no space left on device (ENOSPC)\n"
    assert (ours.returncode, normalized(ours.stderr.decode())) == (node.returncode, normalized(node.stderr.decode()))
    assert ours.returncode == 2


class FailingStream(io.StringIO):
    def __init__(self, code: int, at_flush: bool) -> None:
        super().__init__()
        self.code = code
        self.at_flush = at_flush

    def write(self, text: str) -> int:
        if not self.at_flush:
            raise OSError(self.code, os.strerror(self.code))
        return super().write(text)

    def flush(self) -> None:
        if self.at_flush:
            raise OSError(self.code, os.strerror(self.code))


@pytest.mark.parametrize(
    "code, words",
    [
        (errno.ENOSPC, "no space left on device (ENOSPC)"),
        (errno.EIO, "input/output error (EIO)"),
        (errno.EBADF, "it is closed (EBADF)"),
        (errno.EDQUOT, "disk quota exceeded (EDQUOT)"),
        (errno.EFBIG, "file too large (EFBIG)"),
        (errno.EACCES, "EACCES"),
    ],
)
def test_write_errors_are_said_in_idx_words(code: int, words: str) -> None:
    # src/cli/io.ts describeWriteError, at a write or at the flush.
    for at_flush in (False, True):
        for args in (["--version"], ["info", "fixtures/one.idx"], ["dump", "fixtures/blocks.idx"]):
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                status = cli.main(args, stdin=io.BytesIO(b""), stdout=FailingStream(code, at_flush))
            assert (status, err.getvalue()) == (2, f"idxmap: cannot write to standard output: {words}\n"), (args, at_flush)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = cli.main(["get", "fixtures/one.idx", "42"], stdin=io.BytesIO(b""), stdout=FailingStream(errno.EPIPE, True))
    assert (status, err.getvalue()) == (0, "")  # a reader that went away: not an error


def test_a_reader_that_goes_away_ends_get_with_status_0() -> None:
    # `... | python -m idxmap get ix | head -1`: idx exits 0 when its reader goes away, even
    # though keys were missing (the answers nobody reads are not counted).
    keys = b"".join(b"%d\n" % k for k in range(300_000))  # more empty answers than a pipe holds
    p = subprocess.Popen(
        [sys.executable, "-m", "idxmap", "get", "fixtures/one.idx"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=ENV,
    )
    import threading

    def feed() -> None:
        try:
            p.stdin.write(keys)
            p.stdin.close()
        except BrokenPipeError:
            pass  # it stopped reading its input when its output went away

    feeder = threading.Thread(target=feed)
    feeder.start()
    assert p.stdout.read(1) == b"\n"
    p.stdout.close()
    try:
        assert p.wait(timeout=60) == 0 and p.stderr.read() == b""
    finally:
        feeder.join(timeout=60)


def test_a_closed_stdin_is_read_as_no_keys_as_idx_reads_it() -> None:
    # `get FILE <&-`: Python has no sys.stdin then. idx prints nothing and exits 0, as for an
    # empty stdin; so does idxmap (it said "This is a bug in idxmap").
    args = ["get", "fixtures/one.idx"]
    ours = run_py_process(args, "<&-")
    node = run_idx_process(args, "<&-")
    assert (ours.returncode, ours.stdout, ours.stderr) == (node.returncode, node.stdout, node.stderr) == (0, b"", b"")
    empty = run_py_process(args, "< /dev/null")
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, b"", b"")
