#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, nvcc and Python 3.12: install the CUDA extra, then
#  1. run the regression study for EPOCHS epochs on cuda_standalone and on cpp_standalone and
#     compare their summaries (the two devices must agree on the same short run);
#  2. time the regression network (benchmarks/dense.py's 100 -> 3 x 512, one 500-step sequence)
#     and one training run of the paper DVS Gesture network on cuda_standalone.
#   bash benchmarks/gpu.sh [EPOCHS]            (default 2)
#   WHEELS=path/to/wheelhouse bash benchmarks/gpu.sh   (offline: pip download brian2cuda==1.0b1
#                                                       nvidia-curand and their dependencies there)
# Not yet run on a GPU: no GPU was lent to the sessions so far (benchmarks/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs="${1:-2}"
offline=()
if [ -n "${WHEELS:-}" ]; then offline=(--no-index --find-links "$WHEELS"); fi
python3 -m venv .venv-gpu
.venv-gpu/bin/pip install -q "${offline[@]}" -e '.[cuda]' nvidia-curand
# nvidia-curand: cuRAND headers for toolkits without them (brian_decolle.devices adds them to nvcc)
nvidia-smi --query-gpu=name,memory.total --format=csv
for device in cuda_standalone cpp_standalone; do
    /usr/bin/time -f "${device}: %e s wall" .venv-gpu/bin/python studies/regression.py \
        --device "$device" --epochs "$epochs" --out "output/gpu_check/$device"
done
.venv-gpu/bin/python - <<'PY'
import json
import numpy as np
runs = {d: json.load(open(f"output/gpu_check/{d}/summary.json")) for d in ("cuda_standalone", "cpp_standalone")}
for d, s in runs.items():
    print(d, "wall", s["wall_time_s"], "s;", [round(l["nmse_last_epoch"], 4) for l in s["layers"]])
arrays = {d: np.load(f"output/gpu_check/{d}/results.npz") for d in runs}
for k in (1, 2, 3):
    a, b = (arrays[d][f"layer{k}_spikes"] for d in runs)
    print(f"layer {k}: spikes differing between CUDA and C++: {int((a != b).sum())} of {a.size}; "
          f"max |y difference| {np.abs(arrays['cuda_standalone'][f'layer{k}_y'] - arrays['cpp_standalone'][f'layer{k}_y']).max():.2e}")
PY
.venv-gpu/bin/python - <<'PY'
# the dense regression network, one 500-step sequence, on the GPU (build once, run 5 times)
import time, tempfile, sys
import numpy as np
sys.path.insert(0, "benchmarks")
import dense
from brian_decolle import devices
from brian_decolle.devices import Target
build = tempfile.mkdtemp(prefix="decolle_gpu_")
Target("cuda_standalone", build).select()
dense.network(512, 500).run()
devices.build(run=False)
times = []
for _ in range(5):
    start = time.perf_counter()
    devices.run_again({}, seed=None)
    times.append(time.perf_counter() - start)
print(f"regression network on cuda_standalone: median {np.median(times):.3f} s per 500-step sequence (wall, incl. start-up)")
PY
.venv-gpu/bin/python benchmarks/classification.py dvs paper --device cuda_standalone --repeats 1 --runs train
