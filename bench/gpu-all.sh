#!/usr/bin/env bash
# Every WebGPU bench with its peer, in sequence, on the GPU machine; one log per bench.
#
#   bash bench/gpu-all.sh LOGDIR [matmul kernels decode train]   (default: all four)
#
# Run from the project's root with .device (../shared/device/pack.sh) and vendor-peer/mamba_ssm
# (a copy of github:state-spaces/mamba's mamba_ssm/ folder) present; builds first. Each bench gets
# at most BENCH_TIMEOUT seconds (default 300) so that one hang cannot take the rest with it.
set -uo pipefail
out=${1:?usage: bash bench/gpu-all.sh LOGDIR [bench ...]}
shift
[ $# -gt 0 ] && benches=("$@") || benches=(matmul kernels decode train)
mkdir -p "$out"
export PYTHONUNBUFFERED=1
{
  date -u +%Y-%m-%dT%H:%M:%SZ
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>&1
  python3 -c 'import torch, triton; print("torch", torch.__version__, "triton", triton.__version__)' 2>&1
  git rev-parse --short HEAD 2>/dev/null
} | tee "$out/machine.log"
if [ ! -f dist/bench/gpu-util.js ] || [ "${BUILD:-1}" = 1 ]; then
  bash .device/run.sh node node_modules/typescript/bin/tsc -p tsconfig.json >"$out/build.log" 2>&1 || { echo "build failed:"; tail -20 "$out/build.log"; exit 1; }
fi
for b in "${benches[@]}"; do
  echo "== gpu-$b ($(date -u +%H:%M:%S))"
  timeout "${BENCH_TIMEOUT:-300}" bash .device/run.sh node dist/bench/gpu-$b.js --vendor vendor-peer 2>&1 | tee "$out/$b.log"
  echo "== gpu-$b exit ${PIPESTATUS[0]}"
done
