"""The ``brian-decolle`` command: one sub-command per study, and one that draws figures.

    brian-decolle regression [options]      paper Sec. 4.1, Fig. 1
    brian-decolle mnist [options]           paper Sec. 4.2 (Poisson MNIST)
    brian-decolle dvs-gesture [options]     paper Sec. 4.3 (DVS Gesture, needs the [dvs] extra)
    brian-decolle events [options]          any event dataset: your own folder or a tonic dataset ([dvs])
    brian-decolle figures OUT [OUT ...]     the figures of any study's output folder
    brian-decolle evaluate OUT [options]    test a classification run's learned weights, without training
    brian-decolle sweep SPEC [options]      a parameter sweep on Dask (needs the [sweep] extra)

``brian-decolle STUDY --help`` lists a study's options with their defaults. The scripts in
``studies/`` call the same functions.
"""
from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

from . import cli, devices, events, gestures, mnist, regression, results
from .checks import ConfigError
from .training import CHECKPOINT, evaluate, read_checkpoint

#: sub-command -> the study it runs
STUDIES = {"regression": regression.STUDY, "mnist": mnist.STUDY, "dvs-gesture": gestures.STUDY,
           "events": events.STUDY}
SUMMARY = {"regression": "regression with a frozen Poisson input (paper Sec. 4.1, Fig. 1)",
           "mnist": "Poisson MNIST (paper Sec. 4.2)",
           "dvs-gesture": "DVS Gesture (paper Sec. 4.3, Table 1); --synthetic for the SYNTHETIC stand-in",
           "events": "any event dataset: a folder of your own recordings or a tonic dataset class",
           "figures": "draw the figures of study output folders: figures OUT [OUT ...]",
           "evaluate": "test the learned weights of a classification run (no training): evaluate OUT",
           "sweep": "a parameter sweep on Dask, one compile per network structure: sweep SPEC ([sweep] extra)"}
#: the study a config.json names -> its module (make_source) for evaluate
CLASSIFICATION = {"mnist": mnist, "dvs_gesture": gestures, "events": events}
#: which learned values evaluate tests: the end of training, or the last checkpoint
STATES = {"learned": "learned.npz", "checkpoint": CHECKPOINT}


def version() -> str:
    try:
        return metadata.version("brian-decolle")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def usage() -> str:
    lines = [f"usage: brian-decolle {{{','.join(SUMMARY)}}} [options]", "",
             "Deep Continuous Local Learning (DECOLLE) as Brian2 equations.", "", "commands:"]
    lines += [f"  {name:<13} {text}" for name, text in SUMMARY.items()]
    lines += ["", "`brian-decolle COMMAND --help` lists a command's options and their defaults."]
    return "\n".join(lines)


def draw_figures(out_dir) -> list:
    from .figures import draw  # matplotlib is imported only when figures are drawn
    return draw(out_dir)


def run_study(name: str, argv=None) -> dict:
    """One study from its command line; its figures are drawn when it is done."""
    return cli.main(STUDIES[name], argv, plot=draw_figures, prog=f"brian-decolle {name}")


def evaluation_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brian-decolle evaluate", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Test the learned weights of a classification run (its config.json and learned.npz or "
                    "checkpoint.npz) on its test set, on a network built without the rule's code. Writes "
                    "evaluation.json and evaluation.npz (predictions) into OUT.")
    parser.add_argument("out", metavar="OUT", help="a classification study's output folder")
    parser.add_argument("--state", choices=tuple(STATES), default="learned",
                        help="the weights at the end of training, or those of the last checkpoint")
    parser.add_argument("--n-test", type=int, default=None, help="test samples (default: all the data hold)")
    parser.add_argument("--device", choices=devices.DEVICES, default=cli.TARGET_DEFAULTS["device"])
    parser.add_argument("--codegen", choices=devices.CODEGEN_TARGETS, default=cli.TARGET_DEFAULTS["codegen_target"],
                        help="code generation target of the runtime device")
    parser.add_argument("--precision", choices=tuple(devices.PRECISIONS), default=cli.TARGET_DEFAULTS["precision"])
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier evaluation.json")
    return parser


def evaluate_folder(out, *, state: str = "learned", n_test: int | None = None,
                    target: devices.Target = devices.Target()) -> dict:
    """Test the learned weights of the run in ``out``; write evaluation.json and evaluation.npz there."""
    out = Path(out)
    record = results.read_record(out / "config.json")
    module = CLASSIFICATION.get(record["study"])
    if module is None:
        raise ConfigError(f"{out} holds a {record['study']!r} run; evaluate tests classification runs "
                          f"({', '.join(CLASSIFICATION)})")
    study = results.from_dict(type(module.preset(module.PRESETS[0])), record)
    path = out / STATES[state]
    if not path.is_file():
        raise ConfigError(f"state={state!r}: {path} does not exist (the run has not written it yet)")
    if state == "checkpoint":
        learned, _ = read_checkpoint(path)
    else:
        with np.load(path, allow_pickle=False) as saved:
            learned = {k: saved[k] for k in saved.files}
    source, described, synthetic = module.make_source(study)
    found = evaluate(study.network, study.schedule, source, learned, out / "build_test", target=target,
                     n_test=n_test)
    np.savez_compressed(out / "evaluation.npz", predictions=found.pop("predictions"), labels=found.pop("labels"))
    summary = {"state": str(path), "data": described, "synthetic_data": synthetic, "device": target.device,
               "precision": target.precision, **found, "provenance": results.provenance()}
    results.write_summary(out, summary, name="evaluation.json")
    return summary


def run_evaluation(argv) -> int:
    parser = evaluation_parser()
    args = parser.parse_args(argv)
    if (Path(args.out) / "evaluation.json").exists() and not args.overwrite:
        parser.error(f"{args.out} already holds evaluation.json; --overwrite replaces it")
    try:
        summary = evaluate_folder(args.out, state=args.state, n_test=args.n_test,
                                  target=devices.Target(device=args.device, codegen_target=args.codegen,
                                                        precision=args.precision))
    except ConfigError as exc:
        parser.error(str(exc))
    print(f"test accuracy per layer ({summary['n_test']} samples): "
          + " ".join(f"{a:.3f}" for a in summary["accuracy_per_layer"]))
    print(f"written to {Path(args.out).resolve() / 'evaluation.json'}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"brian-decolle {version()}")
        return 0
    command, rest = argv[0], argv[1:]
    if command in STUDIES:
        run_study(command, rest)
        return 0
    if command == "figures":
        from .figures import main as figures_main
        return figures_main(rest)
    if command == "evaluate":
        return run_evaluation(rest)
    if command == "sweep":
        from .sweep import main as sweep_main  # (Dask is imported only when a sweep runs)
        return sweep_main(rest)
    print(f"{usage()}\n\nbrian-decolle: error: unknown command {command!r}; choose one of {', '.join(SUMMARY)}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
