"""Time of one training run and one test run of a classification study's network (one build).

    python benchmarks/classification.py mnist small --repeats 3 [--loops generic]
    python benchmarks/classification.py dvs cpu --device cpp_standalone --precision float32
    /usr/bin/time -v python benchmarks/classification.py dvs paper --repeats 1 --runs train
    python benchmarks/classification.py dvs cpu --runs test --test-only   # a build without the rule's code
    python benchmarks/classification.py mnist small --learning error_triggered --error-threshold 0.5

Inputs are random Poisson spikes at the study's input size (the time of a run does not depend on
what the input shows, only on how many spikes it holds: --rate sets their rate); learning is on in
training runs (Adamax, dropout; with --learning error_triggered, SGD at --lr) and off in test runs.
Prints build time, per-run times (median) and the training runs' synaptic work per sample.
"""
import argparse
import dataclasses
import json
import statistics
import tempfile
import time

import numpy as np

from brian_decolle import devices, gestures, mnist
from brian_decolle.classifier import OnlineClassifier
from brian_decolle.devices import Target
from brian_decolle.results import add_operations, operations_per_sample


def network(task, name, batch, learning, error_threshold, lr, forward):
    study = (mnist if task == "mnist" else gestures).preset(name)
    cfg = dataclasses.replace(study.network, batch=batch, forward=forward)
    if learning == "error_triggered":   # (plain SGD steps; the learning rate of the comparison)
        cfg = dataclasses.replace(cfg, learning=learning, error_threshold=error_threshold, optimiser="sgd", lr=lr)
    return cfg, study.schedule


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("mnist", "dvs"))
    parser.add_argument("network")
    parser.add_argument("--device", default="cpp_standalone")
    parser.add_argument("--precision", default="float64")
    parser.add_argument("--threads", type=int, default=0, help="OpenMP threads of cpp_standalone")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--loops", choices=devices.LOOPS, default="blocked",
                        help="cpp_standalone's loops over declared synapses (brian_decolle/codegen.py) or Brian2's")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="input rate in Hz")
    parser.add_argument("--runs", choices=("train", "test", "both"), default="both",
                        help="which runs to time (train alone: build + training, e.g. for peak memory)")
    parser.add_argument("--test-only", action="store_true",
                        help="build the network for testing only (no plasticity code; implies --runs test)")
    parser.add_argument("--learning", choices=("dense", "error_triggered"), default="dense")
    parser.add_argument("--forward", choices=("dense", "spike_driven"), default="dense")
    parser.add_argument("--error-threshold", type=float, default=0.5, help="theta (error_triggered)")
    parser.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (error_triggered)")
    args = parser.parse_args()
    if args.test_only:
        args.runs = "test"
    cfg, schedule = network(args.task, args.network, args.batch, args.learning, args.error_threshold, args.lr,
                          args.forward)
    steps = schedule.steps(cfg).test
    windows = schedule.windows(cfg)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as build:
        start = time.perf_counter()
        target = Target(args.device, build, precision=args.precision, threads=args.threads, loops=args.loops)
        clf = OnlineClassifier(cfg, cfg.layers[0].readout_size, steps, target=target, plastic=not args.test_only)
        build_s = time.perf_counter() - start
        state = clf.initial_state()
        times = {"train": [], "test": []}
        work = {}
        for repeat in range(args.repeats):
            for kind in (("train", "test") if args.runs == "both" else (args.runs,)):
                spikes = (rng.random((steps, cfg.batch * cfg.n_inputs)) < args.rate * 1e-3).astype(float)
                labels = rng.integers(0, cfg.layers[0].readout_size, size=(steps, cfg.batch))
                starts = np.zeros(steps)
                for offset, _ in (windows if kind == "train" else [(0, steps)]):
                    starts[offset] = 1
                t0 = time.perf_counter()
                _, new_state, _, activity = clf.run(spikes, labels, starts, state, learn=kind == "train",
                                                    seed=repeat)
                times[kind].append(time.perf_counter() - t0)
                if kind == "train":
                    state = new_state
                    add_operations(work, [layer["operations"] for layer in activity], cfg.batch * len(windows))
    per_run = windows
    n_connections = sum(spec.fan_in * spec.n_units for spec in cfg.layers if spec.is_conv)
    result = {
        "task": args.task, "network": args.network, "device": args.device, "batch": cfg.batch,
        "layer_shapes": [spec.output_shape for spec in cfg.layers], "forward_connections_per_replica_upper_bound": n_connections,
        "run_steps": steps, "build_s": round(build_s, 1),
        "precision": args.precision, "threads": args.threads, "loops": args.loops, "repeats": args.repeats, "test_only": args.test_only,
        "forward": cfg.forward, "learning": cfg.learning, "error_threshold": cfg.error_threshold if cfg.learning != "dense" else None,
    }
    if times["train"]:
        result.update(train_run_s_median=round(statistics.median(times["train"]), 3),
                      train_samples_per_run=cfg.batch * len(per_run),
                      train_s_per_sample=round(statistics.median(times["train"]) / (cfg.batch * len(per_run)), 3))
    if times["test"]:
        result.update(test_run_s_median=round(statistics.median(times["test"]), 3),
                      test_s_per_sample=round(statistics.median(times["test"]) / cfg.batch, 3))
    if work:
        result["train_operations_per_sample"] = operations_per_sample(work)["per_sample"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
