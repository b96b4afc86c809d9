#!/usr/bin/env bash
# Rebuild zoo/weights/ the way the shipped weights were made (docs/training.md, "Recipe").
#
#   tools/build_zoo.sh [HP_MINUTES] [JOINT_MINUTES] [FACT_MINUTES]   (defaults 98 22 7)
#
# 1. hyperprior, variable rate: one model for qualities 1-8 (per-quality latent gains,
#    lic_core.variable_rate), started from INIT (default: the shipped hyperprior-q4), 2 threads;
#    exports hyperprior-q1..q8 (gains folded in) and the wrapper hyperprior-q1-8;
# 2. joint, variable rate, on the wrapper's frozen transforms and gains: h_a, h_s, the
#    context model and the entropy-parameter network are fitted for all 8 qualities at once;
# 3. factorized: one entropy bottleneck per shipped quality fitted on that quality's frozen
#    folded transforms (a non-parametric density cannot be shared across gains).
# Steps 2 and 3 run side by side, one thread each. Files store the transforms and
# hyper/context networks as float16 (rounded before the tables are built, so what loads
# is what was saved). Every file's metadata records its chain, steps and settings.
#
# Environment: WORK (scratch folder, default a new temp dir), OUT (default zoo/weights),
# INIT, JOINT_QUALITIES (default "1 3 5 8") and FACT_QUALITIES (default "1 4 8"): the
# qualities copied to OUT (8 hyperprior + 4 joint + 3 factorized files: 58.6 MB of the 60 MB budget).
set -euo pipefail
HP_MIN=${1:-98}; JOINT_MIN=${2:-22}; FACT_MIN=${3:-7}
ROOT=$(realpath "$(dirname "$0")/..")
# paths given by the caller are taken relative to where it was called from
WORK=$(realpath -m "${WORK:-$(mktemp -d)}"); OUT=$(realpath -m "${OUT:-$ROOT/zoo/weights}")
INIT=$(realpath "${INIT:-$ROOT/zoo/weights/hyperprior-q4.safetensors}")
JOINT_QUALITIES=${JOINT_QUALITIES:-"1 3 5 8"}; FACT_QUALITIES=${FACT_QUALITIES:-"1 4 8"}
HALF=g_a,g_s,h_a,h_s,context_prediction,entropy_parameters
mkdir -p "$WORK"
cp "$INIT" "$WORK/init.safetensors"; INIT="$WORK/init.safetensors"  # OUT is replaced below
echo "build_zoo: work folder $WORK (logs, checkpoints, every exported file)"
cd "$ROOT"
train() { OMP_WAIT_POLICY=PASSIVE python -m lic_core.train --N 64 --M 96 --channels-last --quiet \
            --steps 1000000 --batch 8 "$@"; }

train --arch hyperprior --qualities 1-8 --init "$INIT" --threads 2 --bf16 --max-minutes "$HP_MIN" \
      --lr 7e-4 --warmup 300 --crop 128 --val-every 4000 --half "$HALF" \
      --checkpoint "$WORK/hyperprior-vr.pt" --log-file "$WORK/hyperprior-vr.jsonl" \
      --out "$WORK/hyperprior-q{q}.safetensors"

train --arch joint --qualities 1-8 --init "$WORK/hyperprior-q1-8.safetensors" \
      --freeze g_a,g_s,gains --threads 1 --max-minutes "$JOINT_MIN" --lr 1e-3 --warmup 100 \
      --crop 192 --no-val --half "$HALF" --checkpoint "$WORK/joint-vr.pt" \
      --log-file "$WORK/joint-vr.jsonl" --out "$WORK/joint-q{q}.safetensors" & joint=$!
trap 'kill $joint 2>/dev/null || true' EXIT  # a failed factorized fit stops the joint one too
for q in $FACT_QUALITIES; do
  train --arch factorized --quality "$q" --init "$WORK/hyperprior-q$q.safetensors" \
        --freeze g_a,g_s --threads 1 --max-minutes "$FACT_MIN" --lr 1e-2 --warmup 50 \
        --crop 128 --no-val --half g_a,g_s --log-file "$WORK/factorized-q$q.jsonl" \
        --out "$WORK/factorized-q$q.safetensors"
done
wait $joint  # set -e: a failed stage stops the build
trap - EXIT

# stage the new zoo completely, then swap it in (a failed copy leaves OUT as it was)
STAGE="$WORK/zoo"; mkdir -p "$STAGE"
cp "$WORK"/hyperprior-q[1-8].safetensors "$STAGE"/
for q in $JOINT_QUALITIES; do cp "$WORK/joint-q$q.safetensors" "$STAGE"/; done
for q in $FACT_QUALITIES; do cp "$WORK/factorized-q$q.safetensors" "$STAGE"/; done
mkdir -p "$OUT"; rm -f "$OUT"/*.safetensors; cp "$STAGE"/*.safetensors "$OUT"/
du -ch "$OUT"/*.safetensors | tail -1
