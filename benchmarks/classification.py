"""Time of one training run and one test run of a classification study's network (one build).

    python benchmarks/classification.py mnist small --repeats 3
    python benchmarks/classification.py dvs cpu --device cpp_standalone

Inputs are random Poisson spikes at the study's input size (the time of a run does not depend on
what the input shows, only on how many spikes it holds: --rate sets their rate); learning is on in
training runs (Adamax, dropout) and off in test runs. Prints build time and per-run times (median).
"""
import argparse
import json
import math
import statistics
import tempfile
import time

import numpy as np

from brian_decolle.classification import OnlineClassifier


def network(task, name, batch):
    if task == "mnist":
        from brian_decolle.mnist import MnistConfig
        cfg = MnistConfig(network=name, batch=batch)
        return cfg.network_config(), cfg.schedule()
    from brian_decolle.gestures import GestureConfig
    cfg = GestureConfig(data_dir="unused", network=name, batch=batch)
    return cfg.network_config(), cfg.schedule()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=("mnist", "dvs"))
    parser.add_argument("network")
    parser.add_argument("--device", default="cpp_standalone")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="input rate in Hz")
    args = parser.parse_args()
    cfg, schedule = network(args.task, args.network, args.batch)
    steps = schedule.test_steps
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as build:
        start = time.perf_counter()
        clf = OnlineClassifier(cfg, cfg.readout_sizes[0], steps, device=args.device, build_dir=build)
        build_s = time.perf_counter() - start
        state = clf.initial_state()
        times = {"train": [], "test": []}
        for repeat in range(args.repeats):
            for kind in ("train", "test"):
                spikes = (rng.random((steps, cfg.batch * cfg.n_inputs)) < args.rate * 1e-3).astype(float)
                labels = rng.integers(0, cfg.readout_sizes[0], size=(steps, cfg.batch))
                starts = np.zeros(steps)
                for offset, _ in (schedule.windows() if kind == "train" else [(0, steps)]):
                    starts[offset] = 1
                t0 = time.perf_counter()
                _, new_state, _ = clf.run(spikes, labels, starts, state, learn=kind == "train", seed=repeat)
                times[kind].append(time.perf_counter() - t0)
                if kind == "train":
                    state = new_state
    per_run = schedule.windows()
    n_connections = sum(c.channels * s[0] * c.kernel ** 2 * math.prod(o[1:])
                        for c, s, o in zip(cfg.conv_layers, ((cfg.input_shape,) + cfg.layer_shapes())[:-1],
                                           _unit_shapes(cfg)))
    result = {
        "task": args.task, "network": args.network, "device": args.device, "batch": cfg.batch,
        "layer_shapes": cfg.layer_shapes(), "forward_connections_per_replica_upper_bound": n_connections,
        "run_steps": steps, "build_s": round(build_s, 1),
        "train_run_s_median": round(statistics.median(times["train"]), 3),
        "train_samples_per_run": cfg.batch * len(per_run),
        "train_s_per_sample": round(statistics.median(times["train"]) / (cfg.batch * len(per_run)), 3),
        "test_run_s_median": round(statistics.median(times["test"]), 3),
        "test_s_per_sample": round(statistics.median(times["test"]) / cfg.batch, 3),
        "repeats": args.repeats,
    }
    print(json.dumps(result, indent=2))


def _unit_shapes(cfg):
    """(channels, h, w) of each conv layer's units before pooling."""
    shape, out = cfg.input_shape, []
    for conv in cfg.conv_layers:
        h, w = (s + 2 * conv.padding - conv.kernel + 1 for s in shape[1:])
        out.append((conv.channels, h, w))
        shape = conv.output_shape(shape)
    return out


if __name__ == "__main__":
    main()
