#!/usr/bin/env bash
# build_wasm.sh - the engine's whole-file decoder as a WebAssembly module for the page
# in web/ (docs/web.md). Decoder only: no Python, no torch, no threads.
#
#   tools/build_wasm.sh            build web/build/lic_wasm.{mjs,wasm} unless up to date
#   tools/build_wasm.sh --force    build even if up to date
#   tools/build_wasm.sh --check    exit 0 if up to date, 1 if a build is needed (builds nothing)
#
# Needs Emscripten (Debian: apt-get install emscripten node-acorn; 3.1.6 is the version
# tested). Debian's em++ runs its JS optimiser under node and finds acorn only through
# NODE_PATH=/usr/share/nodejs, which this script sets when that folder exists.
#
# Up to date means: web/build/BUILD_HASH holds the SHA-256 of every input (csrc/lic/*.cpp,
# *.h, web/lic_wasm.c, this script, `em++ --version`), so a checkout builds once and again
# only when one of those changes; lic serve, tests/web/test_web.py, bench/web.py and .ci/run
# all call this script. The output (git-ignored) is the same bytes from the same inputs:
# no dates, no paths embedded (checked in docs/web.md).
#
# Flags, and why:
#   -O3 -flto           speed; link-time optimisation lets unused engine code fall away
#   -ffp-contract=off -fno-fast-math -fno-math-errno -fno-trapping-math
#                       the exactness flags of setup.py and csrc/CMakeLists.txt (the
#                       decoder is integer arithmetic, and its few doubles are exact)
#   -msimd128           WebAssembly SIMD (every current browser: Chrome 91, Firefox 89,
#                       Safari 16.4): the int16 dot products vectorise; same integers
#   no -pthread         the worker decodes with threads = 1, so no thread is started
#   MODULARIZE, EXPORT_ES6    an ES module exporting a factory (web/worker.js imports it)
#   ALLOW_MEMORY_GROWTH, MAXIMUM_MEMORY=1GB   starts at 32 MB and grows as a file needs;
#                       the default pixel limit (2^24 padded pixels) decodes within it
#   ENVIRONMENT=web,worker,node   the page's worker, and node for a quick check without
#                       a browser (tests/web/test_web.py)
#   FILESYSTEM=0        the engine reads no files here: weights and .lic files arrive as bytes
set -euo pipefail
cd "$(dirname "$0")/.."

mode=build
case "${1:-}" in
  "") ;;
  --force) mode=force ;;
  --check) mode=check ;;
  *) echo "usage: tools/build_wasm.sh [--force|--check]" >&2; exit 2 ;;
esac

out=web/build
[ -d /usr/share/nodejs ] && export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs"
if ! command -v em++ >/dev/null 2>&1; then
  echo "build_wasm.sh: em++ not found: install Emscripten (Debian/Ubuntu: apt-get install emscripten node-acorn; elsewhere: https://emscripten.org/docs/getting_started/downloads.html)" >&2
  exit 3
fi

sources=(csrc/lic/*.cpp web/lic_wasm.c)
# (the whole of `em++ --version` is read: `| head -1` would break its pipe, an error here)
version=$(em++ --version)
hash=$( { sha256sum csrc/lic/*.cpp csrc/lic/*.h web/lic_wasm.c tools/build_wasm.sh; echo "${version%%$'\n'*}"; } \
        | sha256sum | cut -d' ' -f1)
if [ "$mode" != force ] && [ -f "$out/BUILD_HASH" ] && [ "$(cat "$out/BUILD_HASH")" = "$hash" ] \
   && [ -f "$out/lic_wasm.mjs" ] && [ -f "$out/lic_wasm.wasm" ]; then
  [ "$mode" = check ] || echo "build_wasm.sh: $out is up to date"
  exit 0
fi
[ "$mode" = check ] && exit 1

flags=(-O3 -flto -msimd128 -ffp-contract=off -fno-fast-math -fno-math-errno -fno-trapping-math
       -DNDEBUG -Icsrc)
exports=_malloc,_free,_lic_wasm_header,_lic_wasm_open,_lic_wasm_close,_lic_wasm_release,_lic_wasm_decode_rgba,_lic_wasm_sha256_hex,_lic_wasm_error
link=(-sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createLicModule -sENVIRONMENT=web,worker,node
      -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=32MB -sMAXIMUM_MEMORY=1GB -sFILESYSTEM=0
      -sEXPORTED_FUNCTIONS="$exports" -sEXPORTED_RUNTIME_METHODS=UTF8ToString
      -sINCOMING_MODULE_JS_API=locateFile,wasmBinary,print,printErr)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lic_wasm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
jobs=$(nproc 2>/dev/null || echo 2)
# one object per source, compiled in parallel (the engine is 15 files; intnet.cpp is the
# long one), then linked
printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} sh -c '
  src={}; obj="$0/$(basename "$src").o"
  case "$src" in *.c) exec nice -n 10 emcc -std=c99 "$@" -c "$src" -o "$obj" ;;
                 *) exec nice -n 10 em++ -std=c++17 "$@" -c "$src" -o "$obj" ;; esac' "$tmp" "${flags[@]}"
nice -n 10 em++ "${flags[@]}" "$tmp"/*.o "${link[@]}" -o "$tmp/lic_wasm.mjs"
mkdir -p "$out"
# replace the pair in one step for a reader (lic serve) that may be reading them
cp "$tmp/lic_wasm.wasm" "$out/.lic_wasm.wasm.new" && cp "$tmp/lic_wasm.mjs" "$out/.lic_wasm.mjs.new"
mv "$out/.lic_wasm.wasm.new" "$out/lic_wasm.wasm" && mv "$out/.lic_wasm.mjs.new" "$out/lic_wasm.mjs"
echo "$hash" > "$out/BUILD_HASH"
size=$(wc -c < "$out/lic_wasm.wasm")
echo "build_wasm.sh: $out/lic_wasm.wasm ($size bytes), $out/lic_wasm.mjs in $(( $(date +%s) - start )) s"
