"""DVS Gesture (DECOLLE paper, Sec. 4.3, Table 1, Figs. 3-5).

Recordings of the IBM DVS Gesture set are read through tonic from --data-dir,
pooled to 32x32 with two polarity channels and binned into 1 ms frames. A
three-layer convolutional DECOLLE network learns online from random 500 ms
windows (50 ms burn-in); every layer's local readout is tested on the first
1800 ms of the test recordings.

Data: nothing is downloaded unless --download is given (then tonic fetches the
real set into --data-dir). --synthetic writes a clearly labelled synthetic
stand-in in tonic's layout into --data-dir (if it is not there yet) and trains
on it; every output made from it says SYNTHETIC.

Networks: 'paper' is the paper's Table 2 (meant for --device cuda_standalone);
'cpu' has 5, 10 and 10 channels and runs on a 2-core CPU.

Writes config.json, summary.json, results.npz, checkpoint.npz, test_sample.npz
and PNG figures into --out. --resume continues a run from its checkpoint.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import ConfigError, devices  # noqa: E402
from brian_decolle.gestures import (FRAMES, NETWORKS, GestureConfig, GesturePreprocessing, is_synthetic,  # noqa: E402
                                    run, write_synthetic_gestures)
from figures.classification import plot_all  # noqa: E402


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def main(argv=None):
    d = GestureConfig(data_dir="")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_Help)
    parser.add_argument("--data-dir", required=True, help="folder holding DVSGesture/ (tonic's layout)")
    parser.add_argument("--download", action="store_true", help="let tonic download the real set into --data-dir")
    parser.add_argument("--synthetic", action="store_true",
                        help="write the SYNTHETIC stand-in into --data-dir if absent, and use it")
    parser.add_argument("--network", choices=sorted(NETWORKS), default=d.network)
    parser.add_argument("--frames", choices=FRAMES, default=d.frames, help="events per frame, or clipped to 1")
    parser.add_argument("--train-samples", type=int, default=d.train_samples, help="training sample iterations")
    parser.add_argument("--batch", type=int, default=d.batch, help="replicas sharing the weights (minibatch)")
    parser.add_argument("--lr", type=float, default=d.lr, help="Adamax learning rate")
    parser.add_argument("--dropout", type=float, default=d.dropout, help="dropout of the readout inputs")
    parser.add_argument("--weight-scale", type=float, default=d.weight_scale,
                        help="initial weights ~ U(+-scale/sqrt(fan_in))")
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="training samples between tests")
    parser.add_argument("--eval-samples", type=int, default=d.eval_samples,
                        help="test recordings of each intermediate test")
    parser.add_argument("--n-test", type=int, default=None, help="test recordings of the final test (default: all)")
    parser.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every,
                        help="training samples between checkpoints")
    parser.add_argument("--device", choices=devices.DEVICES, default="cpp_standalone")
    parser.add_argument("--codegen", choices=devices.CODEGEN_TARGETS, default="cython",
                        help="code generation target of the runtime device")
    parser.add_argument("--build-dir", default=None, help="where standalone code is generated (default OUT/build)")
    parser.add_argument("--out", default="output/dvs_gesture", help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    parser.add_argument("--seed", type=int, default=d.seed, help="seed of windows, weights, time constants, dropout")
    args = parser.parse_args(argv)
    try:
        cfg = GestureConfig(data_dir=args.data_dir, network=args.network, frames=args.frames,
                            train_samples=args.train_samples, batch=args.batch, lr=args.lr, dropout=args.dropout,
                            weight_scale=args.weight_scale, eval_every=args.eval_every,
                            eval_samples=args.eval_samples, n_test=args.n_test,
                            checkpoint_every=args.checkpoint_every, seed=args.seed)
        if args.synthetic and not is_synthetic(args.data_dir):
            print(f"writing the SYNTHETIC gesture set into {args.data_dir}")
            write_synthetic_gestures(args.data_dir, seed=args.seed)
        summary = run(cfg, args.out, device=args.device, build_dir=args.build_dir, codegen_target=args.codegen,
                      resume=args.resume, download=args.download)
    except ConfigError as exc:
        parser.error(str(exc))
    figures = plot_all(args.out, GesturePreprocessing().shape)
    print(json.dumps(summary["final_test"], indent=2))
    print(f"results and figures in {Path(args.out).resolve()}:")
    for fig in figures:
        print(f"  {fig}")


if __name__ == "__main__":
    main()
