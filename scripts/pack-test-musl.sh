#!/usr/bin/env bash
# The linux-x64-musl binary against a real musl, short of a musl Node (npm has none, and this
# machine reaches no Alpine mirror): a small program linked against Debian's musl (apt-get
# download musl musl-dev, unpacked into a temp dir, never installed) dlopen()s
# prebuilds/linux-x64-musl/idx.node with RTLD_NOW and looks up napi_register_module_v1. It
# defines every napi_* function the addon calls as an empty stub (a Node defines them for real),
# so the dlopen succeeds only if every C library symbol the addon needs exists in musl.
# It proves linking and loading, not behaviour: no Node runs the addon here.
#
#   bash scripts/pack-test-musl.sh          (needs apt-get download, gcc, nm; Debian x86-64)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
addon="$root/prebuilds/linux-x64-musl/idx.node"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download musl musl-dev >/dev/null 2>&1
for deb in musl_*.deb musl-dev_*.deb; do dpkg -x "$deb" root; done
lib=root/usr/lib/x86_64-linux-musl
{
  echo '#include <dlfcn.h>'
  echo '#include <stdio.h>'
  nm -D --undefined-only "$addon" | awk '{print $2}' | grep '^napi_' | sed 's/.*/void &(void) {}/'
  cat <<'EOF'
int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen failed: %s\n", dlerror()); return 1; }
  void *init = dlsym(h, "napi_register_module_v1");
  printf("dlopen(RTLD_NOW) under musl: ok; napi_register_module_v1 %s\n", init ? "found" : "MISSING");
  return init ? 0 : 1;
}
EOF
} > harness.c
gcc -nostdinc -isystem root/usr/include/x86_64-linux-musl -isystem "$(gcc -print-file-name=include)" -nostdlib -rdynamic \
  harness.c "$lib/crt1.o" "$lib/crti.o" root/lib/x86_64-linux-musl/libc.so "$lib/crtn.o" \
  -Wl,-dynamic-linker,/lib/ld-musl-x86_64.so.1 -o harness
echo "musl $(dpkg-deb -f musl_*.deb Version), $(nm -D --undefined-only "$addon" | grep -vc ' napi_') C library symbols needed by $addon"
./root/lib/ld-musl-x86_64.so.1 ./harness "$addon"
