"""Speed and memory of dense DECOLLE networks on cpp_standalone (100 inputs -> 3 x N).

Learning runs every step (Adamax, both regularisers, dropout 0.5), no monitors.
Build (code generation + compile) and run are timed separately; run times are Brian2's own
timer of the simulation loop, taken by re-running the compiled binary. --batch B runs B
replicas sharing the weights (times are also given per sample), --precision float32 makes every
state variable float32, --loops generic gives Brian2's loops instead of ours for declared synapses
(brian_decolle/codegen.py), --threads the OpenMP threads, --flags adds C++ compiler flags to
Brian2's (-O3 -ffast-math -fno-finite-math-only -march=native), --forward spike_driven drives the
synaptic input by the presynaptic spikes (equations/spike_driven.eqs), --learning error_triggered
updates on error events (Eq. 6, SGD, no regularisers; equations/error_events.eqs).

    python benchmarks/dense.py sequence [--neurons 512 --steps 500 --repeats 5] [--batch 1]
                                        [--precision float64] [--threads 0] [--flags='-funroll-loops']
                                        [--loops blocked]
    python benchmarks/dense.py runtime  [--neurons 512 --steps 500 --repeats 5]
    python benchmarks/dense.py scaling  [--sizes 128 256 512 1024 2048 --steps 200]
    python benchmarks/dense.py memory   [--lengths 500 5000]
"""
import argparse
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import brian2 as b2

from brian_decolle import NetworkConfig, build_network, devices
from brian_decolle.devices import Target

N_INPUTS = 100


def network(neurons, steps, batch=1, forward="dense", learning="dense", theta=0.01):
    """Adamax and both regularisers (the reference's settings); error-triggered learning takes
    SGD and no regularisers (whose terms would make every neuron learn at every step)."""
    settings = dict(optimiser="adamax", lr=1e-3, reg_u=0.1, reg_rate=0.1)
    if learning == "error_triggered":
        settings = dict(optimiser="sgd", lr=1e-3, reg_u=0.0, reg_rate=0.0, learning=learning, error_threshold=theta)
    cfg = NetworkConfig(n_inputs=N_INPUTS, layer_sizes=(neurons,) * 3, readout_sizes=1, dropout=0.5, batch=batch,
                        forward=forward, **settings)
    rng = np.random.default_rng(0)
    spikes = (rng.random((steps, batch * N_INPUTS)) < 0.05).astype(float)
    targets = [np.tile(np.sin(np.arange(steps)[:, None] * 2 * np.pi / 500), (1, batch))] * 3
    return build_network(cfg, spikes, targets, record_readout=())


def build(neurons, steps, build_dir, batch=1, precision="float64", threads=0, flags=(), forward="dense",
          learning="dense", theta=0.01, loops="blocked"):
    """Generate and compile the network; return the build time in seconds."""
    Target("cpp_standalone", str(build_dir), precision=precision, threads=threads, loops=loops).select()
    cpp = b2.prefs.codegen.cpp
    cpp.extra_compile_args_gcc = list(cpp.extra_compile_args_gcc) + list(flags)
    if "-flto" in flags:  # link-time optimisation must also be asked of the linker
        cpp.extra_link_args = list(cpp.extra_link_args) + ["-flto"]
    start = time.perf_counter()
    network(neurons, steps, batch, forward, learning, theta).run()
    devices.build(run=False)
    return time.perf_counter() - start


def run_binary(build_dir):
    """Run the compiled project once: (simulation seconds, peak RSS in MB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "%M", "./main"], cwd=build_dir, check=True,
                         capture_output=True, text=True)
    seconds = float((Path(build_dir) / "results" / "last_run_info.txt").read_text().split()[0])
    return seconds, int(out.stderr.strip().splitlines()[-1]) / 1024


def synapses(neurons):
    return N_INPUTS * neurons + 2 * neurons ** 2


def sequence(args):
    build_dir = Path(tempfile.mkdtemp(prefix="decolle_seq_"))
    try:
        build_s = build(args.neurons, args.steps, build_dir, args.batch, args.precision, args.threads, args.flags,
                        args.forward, args.learning, args.error_threshold, args.loops)
        runs = [run_binary(build_dir)[0] for _ in range(args.repeats)]
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    B = args.batch
    print(f"network: {N_INPUTS} -> 3 x {args.neurons}, {synapses(args.neurons)} plastic synapses, {args.steps} steps, "
          f"batch {B}, {args.precision}, threads {args.threads}, extra flags {' '.join(args.flags) or 'none'}, "
          f"forward {args.forward}, learning {args.learning}, loops {args.loops}"
          + (f" (theta {args.error_threshold})" if args.learning == "error_triggered" else ""))
    print(f"build (codegen + compile): {build_s:.1f} s")
    print(f"run per sequence: median {np.median(runs):.3f} s, min {min(runs):.3f} s over {args.repeats} runs")
    print(f"per sample: median {np.median(runs) / B:.4f} s")
    print(f"synapse-steps per second: {B * synapses(args.neurons) * args.steps / np.median(runs) / 1e6:.0f} M")


def runtime(args):
    """Brian2's runtime device with Cython; the first run compiles (cached on disk), later runs are timed."""
    devices.select("runtime", codegen_target="cython")
    network(args.neurons, args.steps).run()
    runs = []
    for _ in range(args.repeats):
        dn = network(args.neurons, args.steps)
        start = time.perf_counter()
        dn.run()
        runs.append(time.perf_counter() - start)
    print(f"runtime (cython) per sequence: median {np.median(runs):.3f} s, min {min(runs):.3f} s "
          f"over {args.repeats} runs")


def scaling(args):
    rows = []
    for n in args.sizes:
        build_dir = Path(tempfile.mkdtemp(prefix=f"decolle_scale{n}_"))
        build_s = build(n, args.steps, build_dir)
        run_s = np.median([run_binary(build_dir)[0] for _ in range(args.repeats)])
        rows.append((n, synapses(n), build_s, run_s / args.steps))
        print(f"N={n:5d}  synapses={synapses(n):9d}  build {build_s:5.1f} s  per step {run_s / args.steps * 1e3:8.3f} ms",
              flush=True)
    syn, per_step = np.array([r[1] for r in rows]), np.array([r[3] for r in rows])
    exponent = np.polyfit(np.log(syn), np.log(per_step), 1)[0]
    print(f"fitted exponent of time per step against synapses: {exponent:.3f}")


def memory(args):
    for steps in args.lengths:
        build_dir = Path(tempfile.mkdtemp(prefix=f"decolle_mem{steps}_"))
        build(args.neurons, steps, build_dir)
        seconds, rss = run_binary(build_dir)
        print(f"T={steps:6d} steps: peak RSS of the simulation {rss:7.1f} MB, run {seconds:.2f} s", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("sequence", "runtime", "scaling", "memory"))
    parser.add_argument("--neurons", type=int, default=512)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--loops", choices=devices.LOOPS, default="blocked")
    parser.add_argument("--forward", choices=("dense", "spike_driven"), default="dense")
    parser.add_argument("--learning", choices=("dense", "error_triggered"), default="dense")
    parser.add_argument("--error-threshold", type=float, default=0.01)
    parser.add_argument("--precision", choices=("float64", "float32"), default="float64")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--flags", type=str.split, default=[],
                        help="extra C++ compiler flags, one string: --flags='-funroll-loops -flto'")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--lengths", type=int, nargs="+", default=[500, 5000])
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {platform.system()}, python {platform.python_version()}")
    {"sequence": sequence, "runtime": runtime, "scaling": scaling, "memory": memory}[args.mode](args)


if __name__ == "__main__":
    main()
