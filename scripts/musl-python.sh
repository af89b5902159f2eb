#!/usr/bin/env bash
# A musl CPython to test idxmap's musllinux wheels with (scripts/python-wheels.py all finds it):
# Debian packages no musl Python, so this builds CPython 3.11 and zlib from Debian's sources
# against Debian's musl, x86_64 natively (musl-gcc), aarch64 cross (gcc-aarch64-linux-gnu with
# musl's specs) to run under qemu-aarch64-static. 10 to 17 minutes each on two cores.
#
#   bash scripts/musl-python.sh x86_64|aarch64
#
# Installs, as root with apt-get: musl-tools, and for aarch64 gcc-aarch64-linux-gnu, musl:arm64,
# musl-dev:arm64 and qemu-user-static; adds a deb-src entry for Debian's main archive when
# apt has none (apt-get source needs it). Builds into ~/.cache/idxmap-wheels/musl-MACHINE/.
# Modules whose libraries Debian has for glibc only (ssl, ctypes, sqlite3, bz2...) are left out:
# pip installs a wheel from a file without them.
set -euo pipefail
machine="${1:?usage: scripts/musl-python.sh x86_64|aarch64}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/idxmap-wheels"
top="$cache/musl-$machine"
prefix="$top/prefix"
export DEBIAN_FRONTEND=noninteractive

case "$machine" in
  x86_64)
    apt-get install -y -qq musl-tools >/dev/null
    cc="musl-gcc"
    cross=()
    ;;
  aarch64)
    dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64 && apt-get update -qq; }
    apt-get install -y -qq gcc-aarch64-linux-gnu musl:arm64 musl-dev:arm64 qemu-user-static >/dev/null
    cc="aarch64-linux-gnu-gcc -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs"
    # A cross build runs the build machine's CPython of the same minor version; configure cannot
    # probe the target's /dev/ptmx nor run its getaddrinfo, and needs the target's readelf.
    cross=(--host=aarch64-linux-musl --build=x86_64-linux-gnu "--with-build-python=$(command -v python3.11)"
      ac_cv_file__dev_ptmx=no ac_cv_file__dev_ptc=no ac_cv_buggy_getaddrinfo=no READELF=aarch64-linux-gnu-readelf)
    ;;
  *) echo "musl-python: machine must be x86_64 or aarch64, not $machine" >&2; exit 2 ;;
esac

sources="$cache/musl-sources"
if ! ls "$sources"/python3.11_*.orig.tar.gz "$sources"/zlib_*.orig.tar.* >/dev/null 2>&1; then
  if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\n' \
      "$(. /etc/os-release && echo "$VERSION_CODENAME")" >/etc/apt/sources.list.d/idxmap-deb-src.sources
    apt-get update -qq
  fi
  mkdir -p "$sources"
  (cd "$sources" && apt-get source --download-only python3.11 zlib >/dev/null 2>&1)
fi

rm -rf "$top" && mkdir -p "$top" && cd "$top"
tar xf "$sources"/zlib_*.orig.tar.*
(cd zlib-* && CC="$cc" CFLAGS="-O2 -fPIC" ./configure --static --prefix="$prefix" >/dev/null && make -j2 >/dev/null && make install >/dev/null)

tar xzf "$sources"/python3.11_*.orig.tar.gz
cd Python-3.11.*
# gcc, under musl's wrapper, names its glibc multiarch: configure refuses it beside a musl
# triplet, and setup.py would add the glibc headers of /usr/include/<multiarch>.
sed -i 's/^ *MULTIARCH=$($CC --print-multiarch 2>\/dev\/null)/MULTIARCH=/' configure
sed -i 's/^    def add_multiarch_paths(self):$/&\n        return/' setup.py
CC="$cc" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib" ./configure "${cross[@]}" --prefix="$prefix" \
  --disable-test-modules >"$top/configure.log" 2>&1
make -j2 >"$top/make.log" 2>&1
make install >"$top/install.log" 2>&1
echo "musl-python: $prefix/bin/python3.11 ($(grep -o 'interpreter: [^]]*' <(readelf -l "$prefix/bin/python3.11")))"
