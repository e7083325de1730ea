"""The same dense network in the reference package decolle 0.2 (PyTorch, CPU, 1 thread by default).

100 inputs -> 3 x 512 decolle LIFLayer (Linear), a fixed random Linear readout per layer on the
spikes with dropout 0.5, smooth-L1 loss per layer plus both regularisers, Adamax betas (0, 0.95),
a backward pass and an optimiser step every step, states detached every step (decolle's rule).
Runs in its own Python 3.11 environment (see benchmarks/reference.sh).

    python benchmarks/reference_decolle.py [--batch 1] [--steps 500] [--repeats 3] [--threads 1]
"""
import argparse
import time

import torch
from decolle.base_model import LIFLayer

N_INPUTS, NEURONS = 100, 512


def one_sequence(layers, readouts, optimiser, spikes, target):
    for layer in layers:
        layer.state = None
    for t in range(spikes.shape[0]):
        x = spikes[t]
        loss = 0
        for layer, readout in zip(layers, readouts):
            s, u = layer(x)
            y = readout(torch.nn.functional.dropout(s, 0.5, training=True))
            loss = loss + torch.nn.functional.smooth_l1_loss(y, target[t].expand_as(y))
            loss = loss + 0.1 * torch.relu(u + 0.01).mean() + 0.1 * 3e-3 * torch.relu(0.1 - torch.sigmoid(u).mean())
            x = s.detach()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    sizes = [N_INPUTS, NEURONS, NEURONS, NEURONS]
    layers = [LIFLayer(torch.nn.Linear(sizes[k], sizes[k + 1]), alpha=0.97, beta=0.92) for k in range(3)]
    readouts = [torch.nn.Linear(NEURONS, 1) for _ in range(3)]
    for readout in readouts:
        readout.requires_grad_(False)
    params = [p for layer in layers for p in layer.parameters()]
    optimiser = torch.optim.Adamax(params, lr=1e-3, betas=(0.0, 0.95))
    spikes = (torch.rand(args.steps, args.batch, N_INPUTS) < 0.05).float()
    target = torch.sin(torch.arange(args.steps) * 6.2832 / 500).reshape(-1, 1, 1)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        one_sequence(layers, readouts, optimiser, spikes, target)
        times.append(time.perf_counter() - start)
    times.sort()
    median = times[len(times) // 2]
    print(f"decolle 0.2 reference, torch {torch.__version__}, {args.threads} thread(s), float32, batch {args.batch}: "
          f"median {median:.3f} s per {args.steps}-step sequence of the batch, {median / args.batch:.4f} s per sample")


if __name__ == "__main__":
    main()
