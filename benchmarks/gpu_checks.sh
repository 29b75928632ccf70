#!/usr/bin/env bash
# The issue's GPU figures in one run: the unlearning step (real tokens/s, useful FLOP utilisation, peak memory against
# plain finetuning on the same rows) and the TOFU and MUSE evaluations with their generation alone, on a random
# Llama-3.2-1B-shaped model in bf16. Each script prints its figures and ends with "ratio: X.XX"; copies go to $OUT
# (default benchmarks/results/gpu). The embedded tiny models are built first when $UNLEARN_CACHE_DIR lacks them.
#
#   benchmarks/gpu_checks.sh                                # one CUDA device, the H200's dense bf16 peak (989)
#   PEAK_TFLOPS=312 benchmarks/gpu_checks.sh                # an A100
#   DEVICE=cpu MODEL=tiny benchmarks/gpu_checks.sh          # the same run on the CPU with the tiny model (a smoke test)
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${DEVICE:-cuda}"
MODEL="${MODEL:-llama-1b-shape}"
PEAK_TFLOPS="${PEAK_TFLOPS:-989}"
OUT="${OUT:-benchmarks/results/gpu}"
mkdir -p "$OUT"
batch=32
[ "$MODEL" = tiny ] && batch=8
python benchmarks/train_speed.py --model "$MODEL" --device "$DEVICE" --batch-size "$batch" --steps 10 --repeats 2 \
    --peak-tflops "$PEAK_TFLOPS" 2>&1 | tee "$OUT/train_speed.txt"
python benchmarks/eval_speed.py --model "$MODEL" --device "$DEVICE" --repeats 2 2>&1 | tee "$OUT/eval_speed.txt"
echo "figures in $OUT"
