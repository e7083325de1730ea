#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, nvcc and Python 3.12: install the CUDA extra, run the
# regression study on cuda_standalone and on cpp_standalone, and compare their summaries.
#   bash benchmarks/gpu.sh [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
epochs="${1:-100}"
python3 -m venv .venv-gpu
.venv-gpu/bin/pip install -q -e '.[cuda]' nvidia-curand
# nvidia-curand: cuRAND headers for toolkits without them (brian_decolle.devices adds them to nvcc)
nvidia-smi --query-gpu=name,memory.total --format=csv
for device in cuda_standalone cpp_standalone; do
    /usr/bin/time -f "${device}: %e s wall" .venv-gpu/bin/python studies/regression.py \
        --device "$device" --epochs "$epochs" --out "output/gpu_check/$device"
done
.venv-gpu/bin/python - <<'PY'
import json
runs = {d: json.load(open(f"output/gpu_check/{d}/summary.json")) for d in ("cuda_standalone", "cpp_standalone")}
for d, s in runs.items():
    print(d, "wall", s["wall_time_s"], "s;", [round(l["nmse_last_epoch"], 4) for l in s["layers"]])
PY
