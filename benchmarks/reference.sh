#!/usr/bin/env bash
# Seconds per 500-step training sequence of 100 -> 3 x 512 (Adamax, both regularisers, dropout,
# learning every step): brian-decolle on cpp_standalone (float64 and float32, 1 and 2 OpenMP
# threads, batch 1 and 8) and on the runtime device, and the reference package decolle 0.2
# (PyTorch 2.13 CPU, float32 as it ships, 1 and 2 threads, batch 1 and 32) in its own Python 3.11
# environment, all in one run so that the ratios are comparable. Ends with issue 22's target lines.
#   bash benchmarks/reference.sh        (about 6 minutes on 2 cores, once the environments exist)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-ref/bin/python ]; then
    py311="$(command -v python3.11 || echo "$HOME/.pyenv/versions/3.11.7/bin/python")"
    "$py311" -m venv .venv-ref
    .venv-ref/bin/pip install -q torch==2.13.0 numpy tqdm
    .venv-ref/bin/pip install -q --no-deps decolle==0.2
fi
ours() {  # seconds per sample of benchmarks/dense.py sequence with the given options
    local out; out=$(.venv/bin/python benchmarks/dense.py sequence "$@"); echo "$out" >&2
    echo "$out" | sed -n 's/^per sample: median \([0-9.]*\) s.*/\1/p'
}
ref() {  # seconds per sample of the reference with the given options
    local out; out=$(.venv-ref/bin/python benchmarks/reference_decolle.py "$@"); echo "$out" >&2
    echo "$out" | sed -n 's/.*, \([0-9.]*\) s per sample/\1/p'
}
f64=$(ours --repeats 5)
f32=$(ours --repeats 5 --precision float32)
f32t2=$(ours --repeats 5 --precision float32 --threads 2)
f32b8=$(ours --repeats 2 --precision float32 --batch 8)
out=$(.venv/bin/python benchmarks/dense.py runtime --repeats 3); echo "$out"
rt=$(echo "$out" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
r1=$(ref --batch 1)
r1t2=$(ref --batch 1 --threads 2)
r32=$(ref --batch 32 --repeats 1)
r32t2=$(ref --batch 32 --repeats 1 --threads 2)
python3 - "$f64" "$f32" "$f32t2" "$f32b8" "$rt" "$r1" "$r1t2" "$r32" "$r32t2" <<'PY'
import sys
f64, f32, f32t2, f32b8, rt, r1, r1t2, r32, r32t2 = map(float, sys.argv[1:])
print("seconds per sample (500-step sequence):")
print(f"  brian-decolle cpp_standalone batch 1: float64 {f64}, float32 {f32}, float32 2 threads {f32t2}; "
      f"float32 batch 8 {f32b8}; runtime (cython, float64) {rt}")
print(f"  decolle 0.2: batch 1 {r1} (2 threads {r1t2}); batch 32 {r32} (2 threads {r32t2})")
best = min(f64, f32, f32b8)
print(f"regression net, batch 1, cpp_standalone vs decolle 0.2 batch 1 (1 thread each): "
      f"{r1 / f32:.2f}x faster in float32, {r1 / f64:.2f}x in float64 (issue 22's target: >= 8x in float32)")
print(f"  with 2 threads each: {r1t2 / f32t2:.2f}x faster in float32")
print(f"regression net, best batch per sample ({best}) vs decolle 0.2 batch 32 per sample: "
      f"{r32 / best:.2f}x (target >= 0.5x)")
PY
