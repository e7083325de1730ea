#!/usr/bin/env bash
# Seconds per 500-step training sequence of 100 -> 3 x 512: brian-decolle on cpp_standalone and
# on the runtime device, and the reference package decolle 0.2 (PyTorch 2.13 CPU, 1 thread) in its
# own Python 3.11 environment, all in one run so that the ratios are comparable.
#   bash benchmarks/reference.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-ref/bin/python ]; then
    py311="$(command -v python3.11 || echo "$HOME/.pyenv/versions/3.11.7/bin/python")"
    "$py311" -m venv .venv-ref
    .venv-ref/bin/pip install -q torch==2.13.0 numpy tqdm
    .venv-ref/bin/pip install -q --no-deps decolle==0.2
fi
out=$(.venv/bin/python benchmarks/dense.py sequence --repeats 5); echo "$out"
ours=$(echo "$out" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
out=$(.venv/bin/python benchmarks/dense.py runtime --repeats 3); echo "$out"
rt=$(echo "$out" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
out=$(.venv-ref/bin/python benchmarks/reference_decolle.py --batch 1); echo "$out"
ref1=$(echo "$out" | sed -n 's/.*median \([0-9.]*\) s per.*/\1/p')
out=$(.venv-ref/bin/python benchmarks/reference_decolle.py --batch 32 --repeats 1); echo "$out"
ref32=$(echo "$out" | sed -n 's/.*, \([0-9.]*\) s per sample/\1/p')
python3 -c "print(f'per sequence: cpp_standalone {$ours} s, runtime {$rt} s, reference batch 1 {$ref1} s, reference batch 32 {$ref32} s per sample'); print(f'ratios to cpp_standalone: runtime {$rt / $ours:.2f}x, reference batch 1 {$ref1 / $ours:.2f}x, reference batch 32 per sample {$ref32 / $ours:.2f}x')"
