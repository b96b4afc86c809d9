#!/usr/bin/env bash
# The engine as a standalone C library, checked the way a codec would use it:
#
#   1. configure and build csrc/ with CMake in a clean folder, run its ctest
#      (tests/c_abi programs, the corpus replay, the table digests, the example);
#   2. install it into a temporary prefix and check what landed there, including
#      that the shared library exports lic.h's C ABI and nothing else;
#   3. compile tests/cmake_consumer/consumer.c, examples/c_gaussian and examples/c_decode
#      against the installed copy through pkg-config, and through find_package(lic)
#      (shared and static), and run every program (c_decode decodes a golden file of
#      zoo-v5 and checks its pixels' digest, tests/fixtures/golden/zoo-v5/digests.txt).
#
#   tools/check_cmake_package.sh        (needs cmake >= 3.16, pkg-config, cc, c++;
#                                        CMAKE_JOBS=N, default 2; KEEP=1 keeps $work)
# Any failure exits non-zero. .ci/run calls it after pytest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${CMAKE_JOBS:-2}
for tool in cmake ctest pkg-config cc; do
  command -v "$tool" > /dev/null || { echo "check_cmake_package.sh: $tool is not on PATH"; exit 2; }
done

work=$(mktemp -d /tmp/lic-cmake.XXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
build=$work/build
prefix=$work/prefix
start=$(date +%s)
step() { echo "check_cmake_package.sh: $* ($(( $(date +%s) - start )) s)"; }

# ---- 1. build and ctest ------------------------------------------------------
step "configure + build csrc/ in $build"
cmake -S "$root/csrc" -B "$build" -DCMAKE_BUILD_TYPE=Release > "$work/configure.log" 2>&1 \
  || { cat "$work/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" > "$work/build.log" 2>&1 || { tail -40 "$work/build.log"; exit 1; }
# Shown, not fatal: a newer compiler's new warning should not fail CI by itself
# (the C clients themselves are built with -Werror by csrc/CMakeLists.txt).
if grep -q "warning:" "$work/build.log"; then
  grep -B2 -A4 "warning:" "$work/build.log"; echo "check_cmake_package.sh: note: the build warns (above)"
fi
step "ctest"
(cd "$build" && ctest --output-on-failure -j "$jobs")

# ---- 2. install and inspect ---------------------------------------------------
step "install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
pc=$(find "$prefix" -name lic.pc -path "*/pkgconfig/*")
[ -n "$pc" ] || { echo "no lic.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
for f in include/lic/lic.h include/lic/status.h; do
  [ -f "$prefix/$f" ] || { echo "missing $prefix/$f"; exit 1; }
done
for f in liblic.a liblic.so "cmake/lic/licConfig.cmake" "cmake/lic/licConfigVersion.cmake"; do
  [ -e "$libdir/$f" ] || { echo "missing $libdir/$f"; exit 1; }
done
# The same public headers as the Python package ships (setup.py PUBLIC_HEADERS).
diff <(ls "$prefix/include/lic") <(printf 'lic.h\nstatus.h\n') > /dev/null \
  || { echo "installed headers: $(ls "$prefix/include/lic"), expected lic.h status.h"; exit 1; }

# Exports: exactly the functions lic.h marks LIC_API, plus status.h's lic_status_string.
if command -v nm > /dev/null; then
  exported=$(nm -D --defined-only "$libdir/liblic.so" | awk '$2 ~ /^[TtWw]$/ {print $3}' | sort)
  declared=$( (sed -n 's/^LIC_API [^(]*[ *]\(lic_[a-z0-9_]*\)(.*/\1/p' "$root/csrc/lic/lic.h"; \
               echo lic_status_string) | sort)
  if [ "$exported" != "$declared" ]; then
    echo "liblic.so exports differ from lic.h's LIC_API functions:"
    diff <(echo "$declared") <(echo "$exported") || true
    exit 1
  fi
  others=$(nm -D --defined-only "$libdir/liblic.so" | awk '$2 !~ /^[TtWw]$/ && $3 !~ /^LIC_|^lic_/ {print $3}' \
           | grep -v '^$' || true)
  [ -z "$others" ] || { echo "liblic.so exports more than the C ABI: $others"; exit 1; }
  step "liblic.so exports the $(echo "$exported" | wc -l) C ABI functions only"
fi

# ---- 3. clients of the installed copy ------------------------------------------
# c_decode's input: the first golden file of zoo-v5 and its pixels' digest.
golden=$root/tests/fixtures/golden/zoo-v5
read -r decode_name decode_sha256 < "$golden/digests.txt" \
  || { echo "check_cmake_package.sh: cannot read $golden/digests.txt"; exit 1; }
decode_args=("$root/lic_core/zoo/weights" "$golden/$decode_name")
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion lic)" = "$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/pyproject.toml")" ] \
  || { echo "lic.pc's version is not pyproject.toml's"; exit 1; }
step "pkg-config: consumer.c, gaussian.c and decode.c"
for src in tests/cmake_consumer/consumer.c examples/c_gaussian/gaussian.c examples/c_decode/decode.c; do
  exe=$work/pc_$(basename "$src" .c)
  # shellcheck disable=SC2046
  cc -std=c99 -Wall -Wextra -pedantic -Werror "$root/$src" $(pkg-config --cflags --libs lic) \
     -Wl,-rpath,"$(pkg-config --variable=libdir lic)" -o "$exe"
done
"$work/pc_consumer"
"$work/pc_gaussian"
"$work/pc_decode" "${decode_args[@]}" "$work/pc_decode.ppm" 2 "$decode_sha256"
# A static link through pkg-config: Libs.private brings the C++ runtime.
# shellcheck disable=SC2046
cc -std=c99 "$root/tests/cmake_consumer/consumer.c" $(pkg-config --cflags lic) \
   "$libdir/liblic.a" $(pkg-config --static --libs-only-l lic | sed 's/-llic//') -o "$work/pc_static"
"$work/pc_static"

step "find_package(lic): tests/cmake_consumer (lic::lic, lic::lic_static), examples/c_gaussian, c_decode"
for project in tests/cmake_consumer examples/c_gaussian examples/c_decode; do
  dir=$work/$(basename "$project")
  cmake -S "$root/$project" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" > "$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
  cmake --build "$dir" -j "$jobs" >> "$dir.log" 2>&1 || { tail -40 "$dir.log"; exit 1; }
done
"$work/cmake_consumer/consumer_shared"
"$work/cmake_consumer/consumer_static"
"$work/c_gaussian/c_gaussian"
"$work/c_decode/c_decode" "${decode_args[@]}" "$work/c_decode.ppm" 1 "$decode_sha256"
cmp "$work/pc_decode.ppm" "$work/c_decode.ppm"  # the same image on 1 and 2 threads
# The shared consumer really uses the installed liblic.so (not a static copy).
if command -v ldd > /dev/null; then
  # Capture first: under pipefail, `ldd | grep -q` fails at random when grep
  # exits at its first match and ldd then dies of SIGPIPE.
  deps=$(ldd "$work/cmake_consumer/consumer_shared")
  case "$deps" in
    *"$libdir/liblic.so"*) ;;
    *) echo "consumer_shared does not load $libdir/liblic.so"; echo "$deps"; exit 1 ;;
  esac
fi
step "OK"
