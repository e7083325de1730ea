"""Regression with a frozen Poisson spike train (DECOLLE paper, Sec. 4.1, Fig. 1).

Three dense layers of --neurons DECOLLE neurons learn, through their local
readouts, a ramp (layer 1), a fast sinusoid (layer 2) and a slow sinusoid
(layer 3) from one frozen synthetic Poisson input shown --epochs times.
Writes config.json, summary.json, results.npz and PNG figures into --out.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import ConfigError, devices  # noqa: E402
from brian_decolle.config import OPTIMISERS  # noqa: E402
from brian_decolle.regression import RegressionConfig, run  # noqa: E402
from figures.regression import plot_all  # noqa: E402


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def main(argv=None):
    defaults = RegressionConfig()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_Help)
    parser.add_argument("--epochs", type=int, default=defaults.epochs, help="presentations of the frozen input")
    parser.add_argument("--device", choices=devices.DEVICES, default="cpp_standalone")
    parser.add_argument("--codegen", choices=devices.CODEGEN_TARGETS, default="cython",
                        help="code generation target of the runtime device")
    parser.add_argument("--out", default="output/regression", help="output folder")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="seed of input, weights and dropout")
    parser.add_argument("--neurons", type=int, default=defaults.n_neurons, help="neurons per layer")
    parser.add_argument("--inputs", type=int, default=defaults.n_inputs, help="input spike trains")
    parser.add_argument("--rate", type=float, default=defaults.input_rate_hz, help="input rate (Hz)")
    parser.add_argument("--duration", type=float, default=defaults.duration_ms, help="sample length (ms)")
    parser.add_argument("--optimiser", choices=OPTIMISERS, default=defaults.optimiser)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    parser.add_argument("--dropout", type=float, default=defaults.dropout, help="dropout of the readout inputs")
    parser.add_argument("--reg-u", type=float, default=defaults.reg_u, help="membrane regulariser weight")
    parser.add_argument("--reg-rate", type=float, default=defaults.reg_rate, help="activity regulariser weight")
    parser.add_argument("--build-dir", default=None, help="where standalone code is generated (default OUT/build)")
    args = parser.parse_args(argv)
    try:
        cfg = RegressionConfig(n_inputs=args.inputs, input_rate_hz=args.rate, n_neurons=args.neurons,
                               duration_ms=args.duration, epochs=args.epochs, optimiser=args.optimiser, lr=args.lr,
                               dropout=args.dropout, reg_u=args.reg_u, reg_rate=args.reg_rate, seed=args.seed)
        summary = run(cfg, args.out, device=args.device, build_dir=args.build_dir, codegen_target=args.codegen)
    except ConfigError as exc:
        parser.error(str(exc))
    figures = plot_all(args.out)
    print(json.dumps(summary, indent=2))
    print(f"results and figures in {Path(args.out).resolve()}:")
    for fig in figures:
        print(f"  {fig}")


if __name__ == "__main__":
    main()
