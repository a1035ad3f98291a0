#!/usr/bin/env bash
# Regenerates the parity goldens: makes the two tiny checkpoints with hyvk make-model (fixed seed, small vocabulary,
# untied lm_head so greedy tokens depend on the whole network; cheap to remake, so they are not stored), runs the independent PyTorch forward pass on each, and writes
# tests/Hunyuan.Vk.Tests/Parity/goldens/tiny-{dense,gptq-int4}.json. CUDA when present (float32), else CPU (float64).
# PYTHON=... picks the interpreter (default /usr/bin/python3, where Debian's python3-torch lives).
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-/usr/bin/python3}
out=tests/Hunyuan.Vk.Tests/Parity/goldens
seed=11 vocab=1000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
dotnet build src/Hunyuan.Vk.Cli -v quiet -nologo
for format in dense gptq-int4; do
  dotnet run --project src/Hunyuan.Vk.Cli --no-build -- make-model --out "$work/$format" --preset tiny --vocab $vocab --seed $seed --format $format --untied-lm-head
  "$python" tools/parity/hunyuan_parity.py --model "$work/$format" --out "$out/tiny-$format.json" \
    --prompt 7,42,999,3,500,123 --prompt 17,256,999,0,64,511,830,5,77,300,1 --greedy 12 \
    --generator "{\"preset\": \"tiny\", \"vocab\": $vocab, \"seed\": $seed, \"format\": \"$format\", \"dtype\": \"bf16\", \"untied_lm_head\": true}"
done
