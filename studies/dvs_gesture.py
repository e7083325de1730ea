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
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import ConfigError  # noqa: E402
from brian_decolle.data.gestures import FRAMES, GesturePreprocessing, is_synthetic  # noqa: E402
from brian_decolle.data.synthetic_gestures import write_synthetic_gestures  # noqa: E402
from brian_decolle.gestures import NETWORKS, GestureConfig, run  # noqa: E402
from figures.classification import plot_all  # noqa: E402
from studies.common import Help, add_training_options, finish, run_options, training_settings  # noqa: E402


def main(argv=None):
    d = GestureConfig(data_dir="")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=Help)
    parser.add_argument("--data-dir", required=True, help="folder holding DVSGesture/ (tonic's layout)")
    parser.add_argument("--download", action="store_true", help="let tonic download the real set into --data-dir")
    parser.add_argument("--synthetic", action="store_true",
                        help="write the SYNTHETIC stand-in into --data-dir if absent, and use it")
    parser.add_argument("--network", choices=sorted(NETWORKS), default=d.network)
    parser.add_argument("--frames", choices=FRAMES, default=d.frames, help="events per frame, or clipped to 1")
    parser.add_argument("--n-test", type=int, default=None, help="test recordings of the final test (default: all)")
    add_training_options(parser, d, "output/dvs_gesture", "seed of windows, weights, time constants, dropout")
    args = parser.parse_args(argv)
    try:
        cfg = GestureConfig(data_dir=args.data_dir, network=args.network, frames=args.frames, n_test=args.n_test,
                            **training_settings(args))
        if args.synthetic and not is_synthetic(args.data_dir):
            print(f"writing the SYNTHETIC gesture set into {args.data_dir}")
            write_synthetic_gestures(args.data_dir, seed=args.seed)
        summary = run(cfg, args.out, download=args.download, **run_options(args))
    except ConfigError as exc:
        parser.error(str(exc))
    finish(summary, args.out, plot_all(args.out, GesturePreprocessing().shape))


if __name__ == "__main__":
    main()
