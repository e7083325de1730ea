"""Command-line pieces the classification studies share: training, device and output options."""
import argparse
import json
from pathlib import Path

from brian_decolle import devices
from brian_decolle.config import OPTIMISERS


class Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every option's default."""


def add_training_options(parser, defaults, out, seed_help):
    """Options every online-classification study has, with defaults from its config."""
    parser.add_argument("--train-samples", type=int, default=defaults.train_samples,
                        help="training sample iterations")
    parser.add_argument("--batch", type=int, default=defaults.batch, help="replicas sharing the weights (minibatch)")
    parser.add_argument("--optimiser", choices=OPTIMISERS, default=defaults.optimiser)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="learning rate")
    parser.add_argument("--dropout", type=float, default=defaults.dropout, help="dropout of the readout inputs")
    parser.add_argument("--weight-scale", type=float, default=defaults.weight_scale,
                        help="initial weights ~ U(+-scale/sqrt(fan_in))")
    parser.add_argument("--eval-every", type=int, default=defaults.eval_every, help="training samples between tests")
    parser.add_argument("--eval-samples", type=int, default=defaults.eval_samples,
                        help="test samples of each intermediate test (the final test uses all)")
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every,
                        help="training samples between checkpoints")
    parser.add_argument("--device", choices=devices.DEVICES, default="cpp_standalone")
    parser.add_argument("--codegen", choices=devices.CODEGEN_TARGETS, default="cython",
                        help="code generation target of the runtime device")
    parser.add_argument("--build-dir", default=None, help="where standalone code is generated (default OUT/build)")
    parser.add_argument("--out", default=out, help="output folder")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    parser.add_argument("--seed", type=int, default=defaults.seed, help=seed_help)


def training_settings(args) -> dict:
    """The config fields add_training_options fills."""
    names = ("train_samples", "batch", "optimiser", "lr", "dropout", "weight_scale", "eval_every", "eval_samples",
             "checkpoint_every", "seed")
    return {name: getattr(args, name) for name in names}


def run_options(args) -> dict:
    return {"device": args.device, "build_dir": args.build_dir, "codegen_target": args.codegen,
            "resume": args.resume}


def finish(summary, out, figures):
    print(json.dumps(summary["final_test"], indent=2))
    print(f"results and figures in {Path(out).resolve()}:")
    for fig in figures:
        print(f"  {fig}")
