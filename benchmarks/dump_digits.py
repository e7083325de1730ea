"""The digits of a Poisson MNIST run, in its training order, as a file that decolle 0.2 can read.

    python benchmarks/dump_digits.py OUT.npz [--samples 4000] [--seed 0] [--n-train 4000] [--n-validation 0]
                                             [--n-test 1000]

Writes train_images (the training digits, values in [0, 1]), train_labels, order (the digit index of
each of the first --samples training samples, as brian_decolle.training presents them: a permutation of
the training digits per epoch, drawn from the seed), test_images and test_labels: the split
`brian-decolle mnist` makes with the same --seed, --n-train, --n-validation and --n-test (the bundled digits).
benchmarks/reference_learning.py trains decolle 0.2 on it.
"""
import argparse

import numpy as np

from brian_decolle.data.mnist import PoissonDigits, load_split
from brian_decolle.training import epoch_order


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--n-validation", type=int, default=0)
    parser.add_argument("--n-test", type=int, default=1000)
    args = parser.parse_args()
    split = load_split(None, args.n_train, args.n_test, seed=args.seed)
    digits = PoissonDigits(split, 100.0, args.seed, n_validation=args.n_validation)
    # the trainer's order (training.epoch_order): sample k is epoch_order(seed, epoch, n_train)[position],
    # with (epoch, position) = divmod(k, n_train)
    epochs = -(-args.samples // digits.n_train)
    order = np.concatenate([epoch_order(args.seed, epoch, digits.n_train) for epoch in range(epochs)])[:args.samples]
    kept = digits.train_digits
    np.savez_compressed(args.out, train_images=split.train_images[kept], train_labels=split.train_labels[kept],
                        order=order, test_images=split.test_images, test_labels=split.test_labels)
    print(f"{args.out}: {len(kept)} training digits, {args.samples} samples in order, {args.n_test} test digits "
          f"({split.source})")


if __name__ == "__main__":
    main()
