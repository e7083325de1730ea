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
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import devices, results, stopping
from .checks import ConfigError
from .training import CHECKPOINT

#: one sentence per field a study exposes (the field's own comment, for --help)
HELP = {
    "batch": "replicas sharing the weights (minibatch)",
    "optimiser": "sgd, sgd_momentum (torch's SGD with --momentum), adamax (decolle-public's: torch's Adamax) or "
                 "adam (torch's Adam: momentum and bias correction)",
    "momentum": "with --optimiser sgd_momentum: the velocity's decay per optimiser step",
    "loss": "cost of each readout: mse, smooth_l1, or custom (its rule derived from --loss-expr)",
    "loss_expr": "with --loss custom: the cost of one readout unit at one step in y, yhat and n_out, as Brian2 "
                 "code; sum(...) sums over the readout's units, "
                 "e.g. --loss-expr='-yhat*log(exp(y)/sum(exp(y)))'",
    "refractory_trace": "keep the refractory state's dependence on w through the neuron's own spikes with a "
                        "per-synapse trace (DECOLLE drops it; discrete dense layers, batch 1)",
    "learning": "weight updates: 'dense' (Eq. 5, every step) or 'error_triggered' (Eq. 6: on error events; "
                "needs optimiser sgd and dense layers of their own)",
    "error_threshold": "theta of the error events (error_triggered learning)",
    "forward": "synaptic input: 'dense' (every synapse every step) or 'spike_driven' (on presynaptic spikes; "
               "exact with learning off, needs discrete dynamics and no random tau)",
    "lr": "learning rate (0: no learning)",
    "lr_scale": "each layer learns at --lr times this (0: the layer does not learn); one value, or one per layer",
    "update_every": "'step': the optimiser steps every time step (DECOLLE); 'sample': the gradient is summed over "
                    "a sample and applied once",
    "adamax_decay": "Adamax's decay of the running gradient norm per optimiser step (torch's beta2)",
    "adam_beta1": "Adam's decay of the gradient's running mean per optimiser step (its momentum)",
    "adam_beta2": "Adam's decay of the squared gradient's running mean per optimiser step",
    "dropout": "dropout probability of each readout's input",
    "surrogate": "sigma(u) whose slope is the rule's postsynaptic factor: sigmoid, fast_sigmoid or box",
    "readout_input": "what each local readout reads: 'spike' (decolle-public), 'sigmoid' (the surrogate's sigma(u); "
                     "the paper's with --surrogate sigmoid: fast_sigmoid's stays within 0.4-0.6) "
                     "or 'trace' (the filtered spike train)",
    "weight_scale": "initial weights ~ U(+-scale/sqrt(fan_in)); one value, or one per layer",
    "burnin_ms": "no learning and no vote during a sample's first ms",
    "reg_u": "membrane regulariser weight",
    "reg_rate": "activity regulariser weight",
    "homeostasis_tau_s": "homeostasis of excitability (equations/homeostasis.eqs): each neuron's excitability h "
                         "follows --homeostasis-hz, a silent neuron's rising by 1 per this many seconds; 0: off",
    "homeostasis_hz": "the homeostasis' target firing rate (Hz)",
    "homeostasis_window_s": "the time constant of the homeostasis' running rate estimate (s)",
    "seed": "seed of the data split, spike trains, weights, time constants and dropout",
    "layer_sizes": "neurons of each dense layer",
    "n_inputs": "input spike trains",
    "train_samples": "training sample iterations",
    "eval_every": "training samples between tests",
    "eval_samples": "test samples of each intermediate test (the final test uses all)",
    "eval_spacing": "'even': a test every --eval-every samples; 'doubling': after --eval-every, twice and four times "
                    "as many samples ... (a learning curve on a log axis)",
    "checkpoint_every": "training samples between checkpoints",
    "train_ms": "length of one training sample (ms)",
    "init": "'lsuv': data-driven initialisation (decolle-public's init_LSUV); 'uniform': as drawn",
    "init_samples": "training samples of each LSUV measurement",
    "init_u_mean": "with --init-rate-hz 0: LSUV's target mean of the membrane potential u (the threshold is u = 0)",
    "init_u_std": "LSUV's target standard deviation of u",
    "init_rate_hz": "LSUV shifts each channel's bias (dense: each neuron's) until the channel's mean firing rate "
                    "is this (Hz); 0: until u's mean is --init-u-mean instead (decolle-public)",
    "init_tolerance": "LSUV stops when u's mean and std are this close to their targets",
    "init_iterations": "... or after this many measurements per layer",
    "lr_drop_every": "training samples between learning-rate drops (none if not given)",
    "lr_drop_factor": "the learning rate is multiplied by this at every drop",
    "test_ms": "length of one test presentation (ms)",
    "n_train": "training digits (a multiple of 10 for the bundled set)",
    "n_test": "held-out test samples of the final test",
    "max_rate_hz": "rate of a white pixel (Hz)",
    "n_validation": "training samples held out for the intermediate evaluations (0: they use the test set; "
                    "events: a tenth of the training recordings unless given)",
    "tonic_dataset": "a tonic.datasets class (e.g. NMNIST) read from --data-dir, instead of a folder of recordings",
    "downsample": "pool the events' x and y by this factor (it must divide the sensor's width and height)",
    "validation_users": "training users held out for the intermediate evaluations (0: they use the test set)",
    "mnist_dir": "folder of the standard MNIST idx files (default: the 5000 real digits shipped in the package)",
    "data_dir": "the data's folder (DVS Gesture: holding DVSGesture/ in tonic's layout; events: see --help)",
    "frames": "events per frame ('counts'), or clipped to 1 ('binary')",
    "epochs": "presentations of the frozen input",
    "input_rate_hz": "input rate (Hz)",
    "duration_ms": "sample length (ms)",
    "fast_hz": "layer 2 target frequency (Hz)",
    "slow_hz": "layer 3 target frequency (Hz)",
}


#: the options of the rule itself, offered by every study: the cost (and its derived rule) and the history kept
RULE_OPTIONS = ("network.loss", "network.loss_expr", "network.refractory_trace")
#: the options of every classification study: its schedule, initialisation, optimiser and network settings
TRAINING_OPTIONS = (
    "schedule.train_samples", "schedule.init", "schedule.init_samples", "schedule.init_u_mean",
    "schedule.init_u_std", "schedule.init_rate_hz", "schedule.init_tolerance", "schedule.init_iterations",
    "schedule.lr_drop_every", "schedule.lr_drop_factor", "schedule.eval_every", "schedule.eval_samples",
    "schedule.eval_spacing", "schedule.checkpoint_every", "schedule.train_ms", "schedule.test_ms", "network.batch",
    "network.optimiser", "network.lr", "network.update_every", "network.momentum", "network.adamax_decay",
    "network.adam_beta1", "network.adam_beta2", "network.forward", "network.learning", "network.error_threshold",
    "network.reg_u", "network.reg_rate", "network.homeostasis_tau_s", "network.homeostasis_hz",
    "network.homeostasis_window_s", "network.surrogate", "network.readout_input", "network.dropout",
    "network.weight_scale", "network.lr_scale", "network.burnin_ms", "network.seed") + RULE_OPTIONS


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
    recipes: dict = dataclasses.field(default_factory=dict)  # --preset name -> {'part.field': value}
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


#: where a study runs unless told otherwise, and unless --config recorded another choice
TARGET_DEFAULTS = {"device": "cpp_standalone", "codegen_target": "cython", "precision": "float64", "threads": 0}


def make_parser(study: Study, prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=study.description, formatter_class=_Help)
    base = study.preset(study.presets[0])
    parser.add_argument("--network", choices=study.presets, default=study.presets[0],
                        help=study.preset_help or "preset of the network and its settings")
    parser.add_argument("--config", metavar="CONFIG_JSON", default=None,
                        help="re-run the experiment a config.json records (its settings, device and precision); "
                             "options given as well change it")
    if study.recipes:
        recipes = "; ".join(f"{name!r} sets {_listed(values)}" for name, values in study.recipes.items())
        parser.add_argument("--preset", choices=tuple(study.recipes), default=argparse.SUPPRESS,
                            help=f"a learning recipe over the --network preset, for comparison: {recipes} "
                                 "(default: this project's recipe, the values shown below)")
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
    # (SUPPRESS again: a re-run keeps the recorded choice unless the option is given)
    for flag, dest, kind, choices, text in (
            ("--device", "device", str, devices.DEVICES, "where the model runs"),
            ("--codegen", "codegen_target", str, devices.CODEGEN_TARGETS, "code generation target of the runtime device"),
            ("--precision", "precision", str, tuple(devices.PRECISIONS),
             "float type of every state variable (traces, weights, optimiser state)"),
            ("--threads", "threads", int, None, "OpenMP threads of cpp_standalone (0: no OpenMP)")):
        parser.add_argument(flag, dest=dest, type=kind, choices=choices, default=argparse.SUPPRESS,
                            help=f"{text} (default: {TARGET_DEFAULTS[dest]})")
    parser.add_argument("--build-dir", default=argparse.SUPPRESS,
                        help="where standalone code is generated (default: OUT/build); a classification run "
                             "compiles its test-only network beside it, in BUILD_DIR_test")
    parser.add_argument("--out", default=f"output/{study.name}",
                        help="output folder (refused if it already holds results, unless --overwrite"
                             + (" or --resume)" if study.resumable else ")"))
    parser.add_argument("--overwrite", action="store_true", help="replace the results an --out folder holds")
    if study.resumable:
        parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.npz")
    if study.add_arguments:
        study.add_arguments(parser)
    return parser


def recorded(study: Study, path):
    """The composed config a config.json records, for a re-run."""
    record = results.read_record(path)
    if record["study"] != study.name:
        raise ConfigError(f"config={str(path)!r} records a {record['study']!r} run, not {study.name!r}: "
                          f"run it with `brian-decolle {record['study'].replace('_', '-')} --config {path}`")
    kind = type(study.preset(study.presets[0]))
    return results.from_dict(kind, record)


def _listed(values: dict) -> str:
    return ", ".join(f"{option.split('.')[1]} {value}" for option, value in values.items())


def compose(study: Study, args: argparse.Namespace):
    """The preset named by --network (or the run --config records), the --preset recipe's values, then
    every given option in its place."""
    config = recorded(study, args.config) if getattr(args, "config", None) else study.preset(args.network)
    if getattr(args, "preset", None):
        config = with_values(config, study.recipes[args.preset])
    return with_values(config, {option: getattr(args, option) for option in study.options
                                if getattr(args, option, None) is not None})


def with_values(config, values: dict):
    """A composed config with ``values`` ('part.field' -> value; lists become the tuples the configs
    keep) in place; the configs check them."""
    changes: dict[str, dict] = {}
    for option, value in values.items():
        part, name = option.split(".")
        changes.setdefault(part, {})[name] = _plain(value)
    parts = {part: dataclasses.replace(getattr(config, part), **fields) for part, fields in changes.items()}
    return dataclasses.replace(config, **parts)


def _plain(value):
    return tuple(_plain(v) for v in value) if isinstance(value, list) else value


def _what_is_kept(out, resumable: bool) -> str:
    checkpoint = Path(out) / CHECKPOINT
    if resumable and checkpoint.exists():
        return (f"The last checkpoint ({checkpoint}) is kept: the same command with --resume continues "
                "from it.")
    return "No checkpoint was written; the run must start again (with --overwrite)."


def target_of(args: argparse.Namespace) -> devices.Target:
    """The devices.Target the options (or, for what they leave out, the re-run config.json) choose."""
    chosen = dict(TARGET_DEFAULTS)
    if getattr(args, "config", None):
        chosen.update(recorded_target(args.config))
    chosen.update({k: getattr(args, k) for k in TARGET_DEFAULTS if hasattr(args, k)})
    return devices.Target(build_dir=getattr(args, "build_dir", None), **chosen)


def recorded_target(path) -> dict:
    """The device, code generation, precision and threads a config.json records."""
    record = results.read_record(path)
    return {k: record[k] for k in TARGET_DEFAULTS if k in record}


def main(study: Study, argv=None, plot: Callable | None = None, prog: str | None = None) -> dict:
    """Parse, compose, run, plot (plot: out folder -> figure paths); print the headline and where the
    files are. Bad options and values exit with the parser's usage and the config's message."""
    parser = make_parser(study, prog)
    args = parser.parse_args(argv)
    try:
        config = compose(study, args)
        target = target_of(args)
        if target.device == "cuda_standalone":   # a study runs what it builds: refused before minutes of nvcc
            devices.check_cuda()
        resume = study.resumable and args.resume
        results.prepare_output_dir(args.out, resume=resume, overwrite=args.overwrite)
        extra = study.before_run(args, config) if study.before_run else {}
        options = dict(target=target, **extra)
        if study.resumable:
            options["resume"] = resume
        with stopping.on_signals():
            summary = study.run(config, args.out, **options)
    except ConfigError as exc:
        parser.error(str(exc))
    except KeyboardInterrupt:
        print(f"\n{parser.prog}: interrupted. {_what_is_kept(args.out, study.resumable)}", file=sys.stderr)
        sys.exit(130)
    figures = plot(args.out) if plot else []
    print(json.dumps(summary.get("final_test", summary), indent=2))
    print(f"results and figures in {Path(args.out).resolve()}:")
    for fig in figures:
        print(f"  {fig}")
    return summary
