"""Poisson MNIST learning in the reference package decolle 0.2 (PyTorch, CPU), on digits given in a file.

Runs in its own Python 3.11 environment (benchmarks/reference.sh makes it: .venv-ref). The digits, their
training order and the test digits come from DIGITS.npz (written by benchmarks/dump_digits.py from
this project's split), so both implementations see the same digits in the same order; each draws its own Poisson
spikes (max_rate_hz per white pixel, 1-ms steps). The network is decolle's LenetDECOLLE with this project's
MNIST small network (conv 8 and 12 channels, 5x5, padding 2, max-pool 2 after each, a fixed random readout
per layer with lc_ampl 0.5 and dropout 0.5), initialised by decolle's init_LSUV on the first training
batch, trained by decolle.utils.train (smooth-L1 per layer, an Adamax step every time step after burn-in,
betas (0, decay)) and tested by decolle.utils.test (per-layer majority of the readout's argmax over the
steps after burn-in). Writes OUT.json: per-layer test accuracy after each number of training samples in
--evaluate-at (rounded up to whole batches, at most the file's samples), and the wall time of training and
testing.

    .venv-ref/bin/python benchmarks/reference_learning.py DIGITS.npz OUT.json [--batch 64] [--lr 1e-3] ...
"""
import argparse
import json
import math
import time

import numpy as np
import torch
from decolle.base_model import DECOLLELoss, LIFLayer
from decolle.init_functions import init_LSUV
from decolle.lenet_decolle_model import LenetDECOLLE
from decolle.utils import test, train

N_CLASSES = 10


def batches(images, labels, indices, batch, n_steps, rate_hz, rng):
    """(spikes (B, T, 1, 28, 28), one-hot targets (B, T, 10)) per batch of the given digits, in their order."""
    for first in range(0, len(indices), batch):
        chosen = indices[first:first + batch]
        p = images[chosen][:, None, None] * (rate_hz / 1000.0)   # (B, 1, 1, 28, 28): spike probability per ms
        spikes = (rng.random((len(chosen), n_steps, 1, 28, 28)) < p).astype(np.float32)
        targets = np.eye(N_CLASSES, dtype=np.float32)[labels[chosen]]
        yield spikes, np.repeat(targets[:, None], n_steps, axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("digits")
    parser.add_argument("out")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decay", type=float, default=0.95, help="Adamax's beta2 (decolle-public: 0.95)")
    parser.add_argument("--rate-hz", type=float, default=100.0, help="Poisson rate of a white pixel")
    parser.add_argument("--train-ms", type=int, default=500)
    parser.add_argument("--test-ms", type=int, default=1000)
    parser.add_argument("--burnin-ms", type=int, default=50)
    parser.add_argument("--evaluate-at", default="0,250,500,1000,2000,4000",
                        help="numbers of training samples after which the test digits are tested")
    parser.add_argument("--n-test", type=int, default=1000, help="how many of the file's test digits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    with np.load(args.digits) as f:
        train_images, train_labels, order = f["train_images"], f["train_labels"], f["order"]
        test_images, test_labels = f["test_images"][:args.n_test], f["test_labels"][:args.n_test]
    net = LenetDECOLLE(input_shape=(1, 28, 28), Nhid=[8, 12], Mhid=[], out_channels=N_CLASSES, kernel_size=[5],
                       stride=[1], pool_size=[2, 2], alpha=[0.97], beta=[0.92], alpharp=[0.65], dropout=[0.5],
                       num_conv_layers=2, num_mlp_layers=0, lc_ampl=0.5, lif_layer_type=LIFLayer)
    first, _ = next(batches(train_images, train_labels, order[:args.batch], args.batch, args.train_ms, args.rate_hz,
                            rng))
    init_LSUV(net, torch.tensor(first))   # (it calls net.init_parameters first)
    loss = DECOLLELoss([torch.nn.SmoothL1Loss() for _ in net.LIF_layers], net)
    optimiser = torch.optim.Adamax(net.get_trainable_parameters(), lr=args.lr, betas=(0.0, args.decay))
    test_rng = np.random.default_rng([args.seed, 1])   # (the same test spikes at every evaluation)
    test_spikes = list(batches(test_images, test_labels, np.arange(len(test_labels)), 100, args.test_ms,
                               args.rate_hz, test_rng))
    asked = [int(n) for n in args.evaluate_at.split(",")]
    if max(asked) > len(order):
        raise SystemExit(f"--evaluate-at {max(asked)}: the file orders only {len(order)} training samples")
    # (whole batches, except the file's last samples: a last point that is no multiple of the batch ends
    # with a smaller batch, as this project's last run does)
    points = sorted({min(math.ceil(n / args.batch) * args.batch, len(order)) for n in asked})
    results, done, train_s, test_s = [], 0, 0.0, 0.0
    for point in points:
        start = time.perf_counter()
        chunk = list(batches(train_images, train_labels, order[done:point], args.batch, args.train_ms, args.rate_hz,
                             rng))
        if chunk:
            train(chunk, loss, net, optimiser, epoch=done, burnin=args.burnin_ms, online_update=True)
        train_s += time.perf_counter() - start
        done = point
        start = time.perf_counter()
        _, accuracy = test(test_spikes, loss, net, args.burnin_ms, print_error=False)
        test_s += time.perf_counter() - start
        results.append({"training_samples": done, "accuracy_per_layer": [float(a) for a in accuracy]})
        print(f"after {done} samples: test accuracy per layer {' '.join(f'{a:.3f}' for a in accuracy)}", flush=True)
    with open(args.out, "w") as f:
        json.dump({"package": "decolle 0.2", "torch": torch.__version__, "settings": vars(args),
                   "evaluations": results, "train_time_s": train_s, "test_time_s": test_s}, f, indent=1)


if __name__ == "__main__":
    main()
