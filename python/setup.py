"""The optional C extension idxmap._native (pyproject.toml holds the rest of the metadata).

The extension is built against the stable ABI of Python 3.9 (abi3: one wheel per platform for
every Python from 3.9). When it cannot be compiled (no compiler, no Python headers) the pure
package is installed with a one-line warning; IDXMAP_NO_EXTENSION=1 skips it outright.
"""

import os
import sys
from glob import glob

from setuptools import Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext

NATIVE = "src/idxmap/_native"
# The stable ABI's version and the C flags: scripts/python-wheels.py reads these two lines (as
# literals) for the wheels it compiles with zig.
LIMITED_API = "0x03090000"
C_FLAGS = ["-std=c11", "-O2"]


class OptionalBuildExt(build_ext):
    """build_ext that warns and goes on without the extension when it fails to compile."""

    def run(self):
        try:
            super().run()
        except Exception as e:  # noqa: BLE001 - any failure leaves the pure package
            self._skip(e)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as e:  # noqa: BLE001
            self._skip(e)

    @staticmethod
    def _skip(e):
        global BUILT
        BUILT = False
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"idxmap: the C extension was not built ({first}); installing the pure-Python package", file=sys.stderr)


class Wheel(bdist_wheel):
    """bdist_wheel whose wheel is pure (py3-none-any) when the extension was not built: a wheel
    tagged cp39-abi3 for a platform says it carries the extension."""

    def run(self):
        self.run_command("build")
        if not BUILT:
            self.root_is_pure = True
            self.py_limited_api = False
        super().run()


def extensions():
    if os.environ.get("IDXMAP_NO_EXTENSION") == "1":
        return []
    return [
        Extension(
            "idxmap._native",
            sources=sorted(glob(f"{NATIVE}/*.c")),
            depends=sorted(glob(f"{NATIVE}/*.h")),
            include_dirs=[NATIVE],
            define_macros=[("Py_LIMITED_API", LIMITED_API)],
            extra_compile_args=C_FLAGS,
            py_limited_api=True,
        )
    ]


EXTENSIONS = extensions()
# False once building the extension failed (OptionalBuildExt).
BUILT = bool(EXTENSIONS)

setup(
    ext_modules=EXTENSIONS,
    cmdclass={"build_ext": OptionalBuildExt, "bdist_wheel": Wheel},
    # An abi3 wheel (cp39-abi3) when it carries the extension; a pure one without.
    options={"bdist_wheel": {"py_limited_api": "cp39"}} if EXTENSIONS else {},
)
