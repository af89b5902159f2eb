#!/usr/bin/env bash
# The Python package's tests (python/tests, pytest), in a virtualenv with numpy and in one without
# it, each with idxmap installed from ./python as a user installs it (its C extension idxmap._native
# built). Three runs: with numpy and the extension, without numpy and the extension, and without
# numpy with IDXMAP_PURE=1 (the pure package, as installed where no compiler is). The numpy paths
# of the pure package are compared with the extension's by tests/test_native.py in the first run.
# The cross tests run the Node package from dist/, so build it first (npm test does).
#
#   scripts/python-test.sh [PYTEST ARGS...]
#
# PYTHON picks the interpreter (default python3); IDXMAP_VENVS where the virtualenvs live
# (default python/.venvs, kept between runs: the second run only reinstalls idxmap).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENVS="${IDXMAP_VENVS:-python/.venvs}"
# An index pip cannot reach is tried once, not five times with back-off (a machine whose pip
# is set up with a local mirror beside an unreachable pypi.org spent minutes on retries).
export PIP_RETRIES="${PIP_RETRIES:-0}" PIP_DISABLE_PIP_VERSION_CHECK=1

if [ ! -f dist/index.js ]; then
  echo "python-test: dist/index.js is missing: run npm install (or npm run build) first" >&2
  exit 1
fi

# setup NAME [PACKAGE...]: a virtualenv with pytest, setuptools (to build ./python offline-fast,
# without an isolated build env each run), the given packages, and idxmap from ./python.
setup() {
  local dir="$VENVS/$1"
  shift
  if [ ! -x "$dir/bin/python" ]; then
    "$PYTHON" -m venv "$dir"
  fi
  "$dir/bin/python" -m pip install -q pytest "setuptools>=77" "$@"
  "$dir/bin/python" -m pip install -q --no-build-isolation --no-deps --force-reinstall ./python
}

started=$SECONDS
setup with-numpy numpy
setup without-numpy
"$VENVS/without-numpy/bin/python" -m pip uninstall -q -y numpy >/dev/null 2>&1 || true

# Each venv must be what its name says, or the runs test the same thing.
"$VENVS/with-numpy/bin/python" -c "import numpy, idxmap.vectorized as v; assert v.numpy_or_none() is numpy"
for name in with-numpy without-numpy; do
  "$VENVS/$name/bin/python" -c "import idxmap, sys; idxmap.native_available() or sys.exit('python-test: the C extension did not build: ' + idxmap.native_reason())"
done
if "$VENVS/without-numpy/bin/python" -c "import numpy" 2>/dev/null; then
  echo "python-test: numpy is importable in $VENVS/without-numpy" >&2
  exit 1
fi
echo "python-test: virtualenvs ready in $((SECONDS - started)) s"

status=0
for run in with-numpy:native without-numpy:native without-numpy:pure; do
  name=${run%%:*}
  pure=0
  [ "${run#*:}" = pure ] && pure=1
  echo "python-test: $run ($("$VENVS/$name/bin/python" --version))"
  t=$SECONDS
  # Run from python/: pytest's rootdir and config are python/pyproject.toml, and the tests import
  # the installed idxmap (python/src is not on the path).
  # The middle run (the extension without numpy: list inputs and answers in C) leaves out the
  # suites that mostly run Node and the command line beside a writer, which the other two runs
  # cover on both paths: 80 of its 115 s.
  skip=()
  if [ "$run" = without-numpy:native ]; then
    for f in test_writer_cross test_writer_crash test_cli test_write_cli; do skip+=(--ignore "tests/$f.py"); done
  fi
  (cd python && IDXMAP_PURE=$pure "../$VENVS/$name/bin/python" -m pytest -q -p no:cacheprovider tests "${skip[@]}" "$@") || status=1
  echo "python-test: $run took $((SECONDS - t)) s"
done
exit $status
