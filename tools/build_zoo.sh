#!/usr/bin/env bash
# Rebuild lic_core/zoo/weights/ the way the shipped weights were made (docs/training.md, "Recipe").
#
#   tools/build_zoo.sh [HP_MINUTES] [JOINT_MINUTES] [FACT_MINUTES] [JOINT2_MINUTES]
#                      [HPR_MINUTES] [JOINT3_MINUTES]    (defaults 85 24 3 10 7 9)
#
# 0. if INIT's latent is narrower than M, widen it first (tools/widen_latents.py: the new
#    channels start switched off, so training resumes from what INIT computes);
# 1. hyperprior, variable rate: one model for QUALITIES (default 1-10; per-quality latent
#    gains, lic_core.training.variable_rate), started from INIT (default: the shipped
#    variable-rate file; one trained for fewer qualities grows its gains), 2 threads;
#    exports the variable-rate file hyperprior-q<QUALITIES> (what ships) and one file per
#    quality with the gains folded in (the factorized fits start from those);
# 2. joint, variable rate, on the hyperprior's frozen transforms and gains: h_a, h_s, the
#    context model and the entropy-parameter network are fitted for every quality at once,
#    starting from PREVIOUS's joint networks with the new transforms grafted on
#    (tools/graft_modules.py), or from the hyperprior's h_a when PREVIOUS is empty;
# 3. factorized: one entropy bottleneck per shipped quality fitted on that quality's frozen
#    folded transforms (a non-parametric density cannot be shared across gains), starting
#    from PREVIOUS's density for that quality when there is one; then the hyperprior's own
#    entropy networks (h_a, h_s, bottleneck) refitted on 256² crops, kept only if that
#    lowers the validation rate;
# 2b, 2c. the joint fit continued on both threads (lr 5e-4, then 3e-4);
# 4. (opt-in: SPACE_CHANNEL_MINUTES set) the space-channel prior (docs/training.md,
#    "Space-channel prior") trained by tools/train_prior.py on the new joint file's frozen
#    transforms and latents, then written by tools/export_space_channel.py as
#    space-channel-q$QUALITIES.safetensors (the joint file's gains and transforms, the
#    prior from the checkpoint), float only like every file here.
# Steps 2 and 3 run side by side, one thread each. The joint and refit stages use 256²
# crops (batch 4): a 128² crop gives the hyper-latent only 2×2 positions, mostly border.
# Files store the transforms and hyper/context networks as float16 (rounded before the
# tables are built, so what loads is what was saved). Every file's metadata records its chain, steps and settings.
#
# Environment: WORK (scratch folder, default a new temp dir), OUT (default lic_core/zoo/weights),
# INIT, M (default 192), BF16 ("--bf16" or "", default: --bf16 when the CPU has
# avx512_bf16 or amx_bf16), HP_LR (default 3e-4; the widening build used 5e-4),
# QUALITIES (the variable-rate range, default 1-10; an INIT trained for fewer qualities
# grows its gains to the new ones, lic_core.training.warm_start.extend_gains),
# FACT_QUALITIES (default "1 2 4 6 8 10"),
# SPACE_CHANNEL_MINUTES (stage 4's training time; unset: no stage 4), SPACE_CHANNEL_ARGS
# (more train_prior.py options, default "--train-hyper": h_a, the bottleneck and h_s
# refitted with the prior, as the first release's run did),
# PREVIOUS (a zoo folder whose joint and factorized networks seed steps 2 and 3, default
# lic_core/zoo/weights; "" fits them from scratch, as a change of M needs). What is
# copied to OUT: hyperprior-q$QUALITIES and joint-q$QUALITIES (every quality, gains folded
# at load) and factorized-q<Q> for FACT_QUALITIES (about 34 MB of the 60 MB budget at M=192),
# and with stage 4 space-channel-q$QUALITIES (about 11 MB more).
# The files are float only: tools/make_integer_release.py and tools/make_decoder_release.py
# make a release of them (both convert space-channel like the other families); to add
# a space-channel prior to the current release instead, tools/make_space_channel_release.py.
set -euo pipefail
HP_MIN=${1:-85}; JOINT_MIN=${2:-24}; FACT_MIN=${3:-3}; JOINT2_MIN=${4:-10}; HPR_MIN=${5:-7}
JOINT3_MIN=${6:-9}
ROOT=$(realpath "$(dirname "$0")/..")
# paths given by the caller are taken relative to where it was called from
WORK=$(realpath -m "${WORK:-$(mktemp -d)}"); OUT=$(realpath -m "${OUT:-$ROOT/lic_core/zoo/weights}")
QUALITIES=${QUALITIES:-1-10}
# a range: the variable-rate files are named by it (hyperprior-q1-10.safetensors), and a
# list such as 1,2,4-10 would only fail after the first, longest stage
[[ "$QUALITIES" =~ ^[0-9]+-[0-9]+$ ]] || { echo "build_zoo: QUALITIES must be a range like 1-10, got '$QUALITIES'" >&2; exit 2; }
INIT=$(realpath "${INIT:-$(ls "$ROOT"/lic_core/zoo/weights/hyperprior-q*-*.safetensors | head -1)}")
M=${M:-192}; HP_LR=${HP_LR:-3e-4}; FACT_QUALITIES=${FACT_QUALITIES:-"1 2 4 6 8 10"}
HALF=g_a,g_s,h_a,h_s,context_prediction,entropy_parameters
# bfloat16 autocast only where the CPU has it in hardware: emulated (a hypervisor may hide
# avx512_bf16 / amx_bf16) it ran the hyperprior stage at 1.8 instead of ~10 steps/s
if [ -z "${BF16+x}" ]; then
  if grep -qwE "avx512_bf16|amx_bf16" /proc/cpuinfo; then BF16=--bf16; else BF16=; fi
fi
mkdir -p "$WORK"
# copied now: OUT (the shipped zoo by default) is replaced at the end
PREVIOUS=${PREVIOUS-$ROOT/lic_core/zoo/weights}
if [ -n "$PREVIOUS" ]; then
  mkdir -p "$WORK/previous"; cp "$(realpath "$PREVIOUS")"/*.safetensors "$WORK/previous/"
  PREVIOUS="$WORK/previous"
fi
cd "$ROOT"
# INIT: a variable-rate file or checkpoint (model.* keys) or a one-quality file
init_m=$(python - "$INIT" <<'PY'
import sys
from lic_core.training.warm_start import read_init
state = read_init(sys.argv[1])[0]
print(state.get("model.g_a.6.weight", state.get("g_a.6.weight")).shape[0])
PY
)
if [ "$init_m" -gt "$M" ]; then
  echo "build_zoo: INIT has M=$init_m, more than M=$M" >&2; exit 1
elif [ "$init_m" -lt "$M" ]; then
  python tools/widen_latents.py "$INIT" "$WORK/init.safetensors" --M "$M"
  INIT="$WORK/init.safetensors"
elif [[ "$INIT" == *.safetensors ]]; then
  cp "$INIT" "$WORK/init.safetensors"; INIT="$WORK/init.safetensors"  # OUT is replaced below
fi
echo "build_zoo: work folder $WORK (logs, checkpoints, every exported file)"
train() { OMP_WAIT_POLICY=PASSIVE python -m lic_core.cli.train --N 64 --M "$M" --channels-last --quiet \
            --steps 1000000 --batch 8 "$@"; }

train --arch hyperprior --qualities "$QUALITIES" --init "$INIT" --threads 2 $BF16 --max-minutes "$HP_MIN" \
      --lr "$HP_LR" --warmup 200 --crop 128 --val-every 6000 --half g_a,g_s,h_a,h_s \
      --checkpoint "$WORK/hyperprior-vr.pt" --log-file "$WORK/hyperprior-vr.jsonl" \
      --out "$WORK/hyperprior-q{q}.safetensors"

prev_joint=$(ls "$PREVIOUS"/joint-q*-*.safetensors 2>/dev/null | head -1 || true)
if [ -n "$prev_joint" ]; then  # the previous networks (any quality range), new transforms
  python tools/graft_modules.py "$prev_joint" "$WORK/hyperprior-q$QUALITIES.safetensors" \
         "$WORK/joint-init.safetensors" --modules g_a,g_s,gains
  joint_init="$WORK/joint-init.safetensors"; joint_lr=5e-4
else  # h_a and the hyper bottleneck from the hyperprior, the rest from random weights
  joint_init="$WORK/hyperprior-q$QUALITIES.safetensors"; joint_lr=1e-3
fi
train --arch joint --qualities "$QUALITIES" --init "$joint_init" \
      --freeze g_a,g_s,gains --threads 1 --max-minutes "$JOINT_MIN" --lr "$joint_lr" --warmup 100 \
      --crop 256 --batch 4 --no-val --half "$HALF" --checkpoint "$WORK/joint-vr.pt" \
      --log-file "$WORK/joint-vr.jsonl" --out "$WORK/joint-q{q}.safetensors" & joint=$!
trap 'kill $joint 2>/dev/null || true' EXIT  # a failed factorized fit stops the joint one too
for q in $FACT_QUALITIES; do
  fact_init="$WORK/hyperprior-q$q.safetensors"
  if [ -f "$PREVIOUS/factorized-q$q.safetensors" ]; then
    python tools/graft_modules.py "$PREVIOUS/factorized-q$q.safetensors" "$fact_init" \
           "$WORK/factorized-init-q$q.safetensors" --modules g_a,g_s
    fact_init="$WORK/factorized-init-q$q.safetensors"; fact_lr=5e-3
  else
    fact_lr=1e-2
  fi
  train --arch factorized --quality "$q" --init "$fact_init" \
        --freeze g_a,g_s --threads 1 --max-minutes "$FACT_MIN" --lr "$fact_lr" --warmup 50 \
        --crop 128 --no-val --half g_a,g_s --log-file "$WORK/factorized-q$q.jsonl" \
        --out "$WORK/factorized-q$q.safetensors"
done
train --arch hyperprior --qualities "$QUALITIES" --init "$WORK/hyperprior-q$QUALITIES.safetensors" \
      --freeze g_a,g_s,gains --threads 1 --max-minutes "$HPR_MIN" --lr 2e-4 --warmup 50 \
      --crop 256 --batch 4 --val-every 0 --half g_a,g_s,h_a,h_s \
      --log-file "$WORK/hp-rate.jsonl" --out "$WORK/hp-rate-q{q}.safetensors"
wait $joint  # set -e: a failed stage stops the build
trap - EXIT
# 2b, 2c. the joint fit continued on both threads (it is the slowest to converge at M=192),
# then once more at a lower rate
prev="$WORK/joint-q$QUALITIES.safetensors"
for stage in "2 $JOINT2_MIN 5e-4" "3 $JOINT3_MIN 3e-4"; do
  read -r n minutes lr <<< "$stage"
  train --arch joint --qualities "$QUALITIES" --init "$prev" \
        --freeze g_a,g_s,gains --threads 2 --max-minutes "$minutes" --lr "$lr" --warmup 50 \
        --crop 256 --batch 4 --no-val --half "$HALF" --checkpoint "$WORK/joint-vr$n.pt" \
        --log-file "$WORK/joint-vr$n.jsonl" --out "$WORK/joint$n-q{q}.safetensors"
  prev="$WORK/joint$n-q$QUALITIES.safetensors"
done
mv "$WORK/joint3-q$QUALITIES.safetensors" "$WORK/joint-q$QUALITIES.safetensors"
# 4. the space-channel prior on the new joint transforms. train_prior.py reads the joint
# model through zoo.load, so it sees a folder holding the new joint file alone (a release
# 'local'); its latents are cached in WORK, since a cache of older transforms' latents
# (the tool's default cache folder) would train the prior on the wrong y. train_prior.py
# draws qualities 1-8; with QUALITIES beyond 8 the file still serves every quality of the
# joint file (one prior for all of them), trained on the first eight only.
if [ -n "${SPACE_CHANNEL_MINUTES:-}" ]; then
  mkdir -p "$WORK/joint-only"
  cp "$WORK/joint-q$QUALITIES.safetensors" "$WORK/joint-only/"
  # shellcheck disable=SC2086  # SPACE_CHANNEL_ARGS is a list of options
  LIC_WEIGHTS_DIR="$WORK/joint-only" OMP_WAIT_POLICY=PASSIVE python tools/train_prior.py \
      --checkpoint "$WORK/space-channel-prior.pt" --minutes "$SPACE_CHANNEL_MINUTES" --threads 2 \
      --cache "$WORK/prior-latents" ${SPACE_CHANNEL_ARGS---train-hyper} \
      > "$WORK/space-channel-prior.log" 2>&1
  python tools/export_space_channel.py --checkpoint "$WORK/space-channel-prior.pt" \
      --joint "$WORK/joint-q$QUALITIES.safetensors" --out "$WORK/space-channel-q$QUALITIES.safetensors"
fi
# the refitted hyperprior networks only if they lower the validation rate (summed over the qualities;
# the transforms are frozen, so the distortion is the same)
if python - "$WORK/hyperprior-vr.jsonl" "$WORK/hp-rate.jsonl" <<'PY'
import json, sys
def val_bpp(path):
    last = [json.loads(l) for l in open(path) if '"val_bpp_q1"' in l][-1]
    return sum(v for k, v in last.items() if k.startswith("val_bpp_q"))
trained, refit = val_bpp(sys.argv[1]), val_bpp(sys.argv[2])
print(f"build_zoo: validation bpp summed over the qualities: {trained:.4f} trained, {refit:.4f} refitted",
      file=sys.stderr)
sys.exit(0 if refit < trained else 1)
PY
then mv "$WORK/hp-rate-q$QUALITIES.safetensors" "$WORK/hyperprior-q$QUALITIES.safetensors"; fi

# stage the new zoo completely, then swap it in (a failed copy leaves OUT as it was)
STAGE="$WORK/zoo"; mkdir -p "$STAGE"
cp "$WORK/hyperprior-q$QUALITIES.safetensors" "$WORK/joint-q$QUALITIES.safetensors" "$STAGE"/
if [ -n "${SPACE_CHANNEL_MINUTES:-}" ]; then cp "$WORK/space-channel-q$QUALITIES.safetensors" "$STAGE"/; fi
for q in $FACT_QUALITIES; do cp "$WORK/factorized-q$q.safetensors" "$STAGE"/; done
mkdir -p "$OUT"; rm -f "$OUT"/*.safetensors; cp "$STAGE"/*.safetensors "$OUT"/
du -ch "$OUT"/*.safetensors | tail -1
