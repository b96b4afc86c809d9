#!/usr/bin/env bash
# Build the compiled faces with AddressSanitizer + UndefinedBehaviorSanitizer and run
# the coder, ans, tables and container tests plus the fuzz harnesses under them.
# Exit non-zero on any test failure or sanitizer report.
#
#   tools/sanitize.sh                 (SANITIZE_DIR=... to choose the staging folder,
#                                      SANITIZE_JOBS=N compiles N files at a time: default 1,
#                                      or 2 when $CI is set)
#
# The build happens in place, but in a *staging copy* of the working tree (the
# files git tracks or would track), never in the caller's checkout: the caller's
# normal extensions stay as they were, so nothing needs rebuilding afterwards and
# other people using the same checkout are not handed ASan-linked modules.
#
# Runtime choices (GCC):
# * LD_PRELOAD="libasan.so libstdc++.so": the ASan runtime must be loaded before
#   anything else (python itself is not instrumented), and libstdc++ right after
#   it: python does not link libstdc++, so without it ASan's __cxa_throw
#   interceptor finds no real __cxa_throw and aborts at the first C++ exception
#   (pybind11 raises through one).
# * PYTHONMALLOC=malloc: Python objects then come from malloc, so ASan also sees
#   overruns of Python-owned buffers (bytes, NumPy arrays) by the faces.
# * ASAN_OPTIONS=detect_leaks=0 for the Python runs: CPython (and NumPy) keep
#   interned objects and arenas alive at exit by design, which LeakSanitizer
#   reports as thousands of leaks; a suppression file for them would also hide
#   ours. Leaks are instead checked (1) by tests/fuzz/native_decode.cpp, a
#   Python-free driver linked with the engine and run with LeakSanitizer ON,
#   and (2) by tests/test_limits.py, which watches RSS over many failing decodes.
# * -fno-sanitize-recover=all (setup.py) + halt_on_error: the first report aborts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keep_stage=${SANITIZE_DIR:+yes}
stage=${SANITIZE_DIR:-$(mktemp -d /tmp/lic-sanitize.XXXX)}
jobs=${SANITIZE_JOBS:-$([ -n "${CI:-}" ] && echo 2 || echo 1)}
cxx=${CXX:-g++}

libasan=$("$cxx" -print-file-name=libasan.so)
libstdcxx=$("$cxx" -print-file-name=libstdc++.so)
[ -f "$libasan" ] || { echo "sanitize.sh: $cxx has no libasan.so"; exit 2; }

echo "sanitize.sh: staging a copy of the tree in $stage"
mkdir -p "$stage"
(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$stage")

cd "$stage"
start=$(date +%s)
LIC_SANITIZE=address,undefined python setup.py -q build_ext --inplace -j "$jobs" > build.log 2>&1 \
  || { tail -40 build.log; echo "sanitize.sh: sanitizer build failed"; exit 1; }
echo "sanitize.sh: built in $(( $(date +%s) - start )) s"

export LD_PRELOAD="$libasan $libstdcxx"
export PYTHONMALLOC=malloc
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_string_checks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export PYTHONPATH=$stage${PYTHONPATH:+:$PYTHONPATH}
export LIC_UNDER_SANITIZER=1

# The staged package must be the one imported, with sanitized extensions.
python - <<'PY'
import lic_core, lic_core.coding._coder, lic_core.coding._ans, lic_core.coding._tables, os
assert os.path.dirname(lic_core.__file__) == os.path.join(os.environ["PYTHONPATH"].split(":")[0], "lic_core"), lic_core.__file__
print("sanitize.sh: testing", lic_core.__file__)
PY

tests=$(ls tests/coding/test_coder*.py tests/coding/test_ans*.py tests/coding/test_tables*.py tests/test_container.py \
          tests/test_limits.py 2>/dev/null || true)
python -m pytest -q -p no:cacheprovider -x $tests tests/fuzz/test_fuzz_replay.py

# Each harness's structure-aware mutations, without libFuzzer, under the sanitizers.
for t in coder ans container; do
  python -m "tests.fuzz.fuzz_$t" --stats "${SANITIZE_FUZZ_INPUTS:-5000}" --seed 11
done

# The engine alone (no Python), LeakSanitizer on.
unset LD_PRELOAD PYTHONMALLOC
native=$stage/native_decode
"$cxx" -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer -I csrc tests/fuzz/native_decode.cpp csrc/lic/*.cpp -o "$native"
ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 "$native" "${SANITIZE_NATIVE_INPUTS:-100000}"

echo "sanitize.sh: clean in $(( $(date +%s) - start )) s"
# A staging folder we made is removed on success (kept on failure for inspection).
[ -n "$keep_stage" ] || rm -rf "$stage"
