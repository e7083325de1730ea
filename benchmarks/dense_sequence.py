"""Time one training sequence of the regression-sized network on cpp_standalone.

100 Poisson inputs -> 3 x 512 dense DECOLLE layers, 500 steps of 1 ms, learning
every step (Adamax, both regularisers, dropout), batch 1. Build (code generation +
compile) and run are timed separately; the run time is Brian2's own
measurement of the simulation loop, repeated by re-running the compiled binary.

    python benchmarks/dense_sequence.py [--repeats 5] [--build-dir DIR]
"""
import argparse
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from brian_decolle import NetworkConfig, build_network, devices


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--neurons", type=int, default=512)
    parser.add_argument("--build-dir", default=None)
    args = parser.parse_args()
    build_dir = Path(args.build_dir or tempfile.mkdtemp(prefix="decolle_bench_"))
    devices.select("cpp_standalone", build_dir=build_dir)
    cfg = NetworkConfig(n_inputs=100, layer_sizes=(args.neurons,) * 3, readout_sizes=1, lr=1e-3,
                        reg_u=0.1, reg_rate=0.1, dropout=0.5)
    rng = np.random.default_rng(0)
    spikes = (rng.random((args.steps, 100)) < 0.05).astype(float)
    targets = [np.sin(np.arange(args.steps)[:, None] * 2 * np.pi / args.steps)] * 3
    t0 = time.perf_counter()
    dn = build_network(cfg, spikes, targets, record_readout=())
    dn.run()
    devices.build(run=False)
    build_s = time.perf_counter() - t0
    runs = []
    for _ in range(args.repeats):
        subprocess.run(["./main"], cwd=build_dir, check=True)
        runs.append(float((build_dir / "results" / "last_run_info.txt").read_text().split()[0]))
    n_syn = 100 * args.neurons + 2 * args.neurons ** 2
    print(f"machine: {platform.processor() or platform.machine()}, {platform.system()}")
    print(f"network: 100 -> 3 x {args.neurons}, {n_syn} plastic synapses, {args.steps} steps")
    print(f"build (codegen + compile): {build_s:.1f} s")
    print(f"run per sequence: median {np.median(runs):.3f} s, min {min(runs):.3f} s over {args.repeats} runs")
    print(f"synapse-steps per second: {n_syn * args.steps / np.median(runs) / 1e6:.0f} M")


if __name__ == "__main__":
    main()
