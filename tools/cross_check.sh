#!/usr/bin/env bash
# The engine on other architectures: cross-built for aarch64 (little-endian, no x86
# vector kernels) and s390x (big-endian) with Debian's cross compilers, and every C test
# of csrc/CMakeLists.txt run under qemu-user. Among them c_abi_golden_decode decodes
# every golden file of zoo-v5 (integer synthesis) to the pixels its digests.txt pins, on
# 1, 2 and 4 threads: the same bytes as on the x86-64 machine that wrote them
# (docs/reliability.md, "Across architectures").
#
#   tools/cross_check.sh [ARCH...]     (default: aarch64 s390x; CMAKE_JOBS=N, default 2;
#                                       KEEP=1 keeps the build folders)
#
# Needs cmake >= 3.16, and per ARCH: ARCH-linux-gnu-gcc, ARCH-linux-gnu-g++, qemu-ARCH and
# the cross runtime in /usr/ARCH-linux-gnu (Debian: qemu-user, gcc-ARCH-linux-gnu,
# g++-ARCH-linux-gnu). When one is missing it skips with a message, or, when CI is set,
# fails naming what is missing (.ci/run installs them). Any build or test failure exits
# non-zero. About 2 minutes per architecture on 2 cores (Release build of the engine and
# its C tests, then ctest under emulation).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${CMAKE_JOBS:-2}
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(aarch64 s390x)
start=$(date +%s)
say() { echo "cross_check.sh: $* ($(( $(date +%s) - start )) s)"; }

# ---- what is needed, per architecture -------------------------------------------
missing=()
for tool in cmake ctest; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
for arch in "${arches[@]}"; do
  case "$arch" in
    aarch64 | s390x) ;;
    *) echo "cross_check.sh: unknown architecture '$arch' (aarch64 or s390x)"; exit 2 ;;
  esac
  for tool in "$arch-linux-gnu-gcc" "$arch-linux-gnu-g++" "qemu-$arch"; do
    command -v "$tool" > /dev/null || missing+=("$tool")
  done
  [ -d "/usr/$arch-linux-gnu/lib" ] || missing+=("/usr/$arch-linux-gnu (the cross C/C++ runtime)")
done
if [ ${#missing[@]} -gt 0 ]; then
  msg="missing: ${missing[*]} (Debian: apt-get install qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu gcc-s390x-linux-gnu g++-s390x-linux-gnu)"
  if [ -n "${CI:-}" ]; then
    echo "cross_check.sh: FAILED: $msg" >&2
    exit 1
  fi
  echo "cross_check.sh: skipped: $msg"
  exit 0
fi
# The golden files the decode test needs (written by tools/make_golden.py).
golden=$root/tests/fixtures/golden/zoo-v5
[ -f "$golden/digests.txt" ] || { echo "cross_check.sh: FAILED: no $golden/digests.txt" >&2; exit 1; }

work=$(mktemp -d /tmp/lic-cross.XXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT

# ---- build and test, one architecture after the other ---------------------------
# A build failure stops the run; a test failure is reported and the next architecture
# still runs, so one run says which architectures disagree.
failed=()
for arch in "${arches[@]}"; do
  build=$work/$arch
  cc=$arch-linux-gnu-gcc
  order=$("$cc" -dM -E - < /dev/null | sed -n 's/^#define __BYTE_ORDER__ __ORDER_\([A-Z]*\)_ENDIAN__$/\1/p')
  say "$arch ($(echo "$order" | tr 'A-Z' 'a-z')-endian, $("$cc" -dumpversion) cross compiler, qemu-$arch): configure + build"
  cmake -S "$root/csrc" -B "$build" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR="$arch" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$arch-linux-gnu-g++" \
        "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-$arch;-L;/usr/$arch-linux-gnu" \
        > "$work/$arch.configure.log" 2>&1 || { cat "$work/$arch.configure.log"; exit 1; }
  cmake --build "$build" -j "$jobs" > "$work/$arch.build.log" 2>&1 || { tail -40 "$work/$arch.build.log"; exit 1; }
  if grep -q "warning:" "$work/$arch.build.log"; then
    grep -B2 -A4 "warning:" "$work/$arch.build.log"; echo "cross_check.sh: note: the $arch build warns (above)"
  fi
  # Really the target's machine code (a host binary would make the check vacuous).
  machine=$(od -An -tx1 -j18 -N2 "$build/c_abi_golden_decode" | tr -d ' ')
  case "$arch:$machine" in
    aarch64:b700 | s390x:0016) ;;
    *) echo "cross_check.sh: $build/c_abi_golden_decode is not an $arch executable (e_machine $machine)"; exit 1 ;;
  esac
  say "$arch: ctest under qemu-$arch"
  if ! (cd "$build" && ctest --output-on-failure -j "$jobs"); then
    failed+=("$arch (ctest)")
  fi
  # What the golden decode printed (ctest keeps every test's output).
  summary=$(grep -E "^(OK|FAILED).* golden files" "$build/Testing/Temporary/LastTest.log" || true)
  case "$summary" in
    OK*) say "$arch: c_abi_golden_decode: $summary" ;;
    *) failed+=("$arch (golden decode)"); say "$arch: c_abi_golden_decode: ${summary:-no summary (did it run?)}" ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "OK: ${arches[*]}: every C test passes under qemu; the zoo-v5 golden files decode to their pinned digests"
