#!/usr/bin/env bash
# The first thing to run on a GPU machine (borrowed for minutes, no .NET SDK needed): the devices, the self-test, and
# A13B-shaped decode benchmarks at q4 and q8 with the f16 load, and attention at 32K cached positions (f16 and int8
# KV), everything written under one folder.
#
#   dotnet publish src/Hunyuan.Vk.Cli -c Release -r linux-x64 --self-contained -p:PublishSingleFile=true \
#       -p:EnableCompressionInSingleFile=true -o publish/linux-x64      # on a machine with the SDK
#   tools/device-check.sh [--quick] [--hyvk PATH] [--out DIR]        # anywhere with a Vulkan driver
#
# --quick: small shapes (selftest --quick, the small preset): runs on lavapipe in a few minutes. Without it: the full
# selftest and a 32-layer A13B step (one layer's random weights shared by all), -p 256 -n 32, q4 and q8; under 8
# minutes on a GPU. Exit 0 when every step ran and passed; each step's rc and time is in DIR/summary.txt.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
quick=0
hyvk=""
out="device-check-$(date +%Y%m%d-%H%M%S)"
while (($#)); do
    case $1 in
        --quick) quick=1 ;;
        --hyvk) hyvk=$2; shift ;;
        --out) out=$2; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "device-check: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [[ -z $hyvk ]]; then
    for candidate in "$here/hyvk" "$here/../publish/linux-x64/hyvk"; do
        [[ -x $candidate ]] && { hyvk=$candidate; break; }
    done
fi
if [[ -z $hyvk || ! -x $hyvk ]]; then
    echo "device-check: no hyvk binary: publish one (see the top of this script) or pass --hyvk PATH" >&2
    exit 2
fi

mkdir -p "$out" || exit 2
: > "$out/summary.txt"
status=0
run() {
    local name=$1
    shift
    echo "== $name: hyvk $*"
    local start=$SECONDS
    "$hyvk" "$@" > "$out/$name.json" 2> "$out/$name.log"
    local rc=$?
    ((rc == 0)) || status=1
    echo "$name rc=$rc $((SECONDS - start)) s: hyvk $*" | tee -a "$out/summary.txt"
}

{ uname -a; command -v lscpu > /dev/null && lscpu; command -v nvidia-smi > /dev/null && nvidia-smi; } > "$out/machine.txt" 2>&1
run devices devices --json
if ((quick)); then
    run selftest selftest --quick --json
    run bench-q4 bench --preset small -p 16 -n 4 -r 1 --weights q4 --output json
    run bench-q8 bench --preset small -p 16 -n 4 -r 1 --weights q8 --output json
    run load-f16 bench --preset small -p 8 -n 2 -r 1 --weights f16 --output json
    run depth-q8 bench --preset small -d 4096 -p 16 -n 4 -r 1 --kv q8 --output json
else
    run selftest selftest --json
    run bench-q4 bench --preset a13b --layers 32 --shared-weights -p 256 -n 32 -r 1 --weights q4 --output json
    run bench-q8 bench --preset a13b --layers 32 --shared-weights -p 256 -n 32 -r 1 --weights q8 --output json
    # An F16 A13B expert stack is ~204M uvec4 texels, beyond NVIDIA's maxTexelBufferElements of 2^27: it loads in parts.
    run load-f16 bench --preset a13b --layers 1 -p 8 -n 2 -r 1 --weights f16 --output json
    # Attention at depth (#15): KV bytes over attention's time at 32K positions, f16 and int8, against depth 0 above.
    run depth-f16 bench --preset a13b --layers 1 -d 32768 -p 64 -n 16 -r 1 --kv f16 --output json
    run depth-q8 bench --preset a13b --layers 1 -d 32768 -p 64 -n 16 -r 1 --kv q8 --output json
fi
echo "device-check: results in $out (summary.txt); $( ((status == 0)) && echo 'every step passed' || echo 'some steps FAILED')"
exit $status
