#!/usr/bin/env bash
# Fuzz every decoder entry point for a time budget; exit non-zero on any finding.
#
#   tools/fuzz.sh [SECONDS] [TARGET ...]      SECONDS: total budget (default 60),
#                                             split evenly over the targets
#   targets: coder ans container model decoder (default: all five)
#
# First replays the saved corpus (tests/fuzz/corpus/<target>/, no libFuzzer
# needed), then runs each harness under atheris/libFuzzer, seeded with valid
# encoder output (--write-seeds) plus the saved corpus. A Python exception other
# than LicError, a failed assertion, a crash (signal), an input slower than 10 s
# (-timeout) or RSS above 2 GiB (-rss_limit_mb) is a finding: libFuzzer writes
# the input to $FUZZ_OUT/<target>-crash-* (or -timeout-*, -oom-*) and this
# script exits 1. Logs and the per-target execution counts go to
# $FUZZ_OUT (default /tmp/lic-fuzz); the last line is the total.
# Reproduce a finding without libFuzzer: python -m tests.fuzz.fuzz_<target> --replay FILE
# (the harnesses are modules of the tests package: run from the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(coder ans container model decoder)
out=${FUZZ_OUT:-/tmp/lic-fuzz}
mkdir -p "$out"
per=$(( budget / ${#targets[@]} ))
[ "$per" -lt 1 ] && per=1

python -c "import atheris" 2>/dev/null || { echo "fuzz.sh: atheris is not installed (pip install atheris)"; exit 2; }

status=0
total=0
for t in "${targets[@]}"; do
  harness=tests/fuzz/fuzz_$t.py
  [ -f "$harness" ] || { echo "fuzz.sh: no harness $harness"; exit 2; }
  saved=tests/fuzz/corpus/$t
  if [ -d "$saved" ] && [ -n "$(ls -A "$saved")" ]; then
    if ! python -m "tests.fuzz.fuzz_$t" --replay "$saved" > "$out/$t-replay.log" 2>&1; then
      echo "FINDING: $t: a saved corpus input fails (see $out/$t-replay.log)"; status=1
    fi
  fi
  work=$(mktemp -d "$out/$t-corpus.XXXX")
  python -m "tests.fuzz.fuzz_$t" --write-seeds "$work" || { echo "fuzz.sh: $t: cannot write seeds"; exit 2; }
  [ -d "$saved" ] && cp "$saved"/* "$work"/ 2>/dev/null
  log=$out/$t.log
  python -m "tests.fuzz.fuzz_$t" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="$out/$t-" "$work" > "$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total=$(( total + execs ))
  if [ $rc -ne 0 ] || grep -qE '^(==[0-9]+== ERROR|.*Uncaught Python exception|SUMMARY: libFuzzer)' "$log"; then
    echo "FINDING: $t: libFuzzer exit $rc after $execs executions; see $log and $out/$t-*"
    status=1
  else
    echo "$t: $execs executions in ${per} s, peak RSS ${rss:-?} MB, no finding"
  fi
  rm -rf "$work"
done
echo "total: $total executions, $( [ $status -eq 0 ] && echo 'no finding' || echo 'FINDINGS (exit 1)')"
exit $status
