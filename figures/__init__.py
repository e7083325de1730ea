"""Figures of any study's output folder, drawn from its saved files only (no Brian2 run).

    from brian_decolle.figures import draw
    draw("output/mnist")                       # PNGs next to the results; returns their paths

    from brian_decolle.figures import classification
    fig = classification.accuracy_curves(classification.load("output/mnist"))   # one Figure

From a shell: ``figures OUT [OUT ...]`` (:func:`main`). config.json's "study" says which
module draws a folder. No module here imports pyplot or chooses a backend: the figures
are plain matplotlib Figures, saved with Figure.savefig.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matplotlib.figure import Figure

from brian_decolle.checks import ConfigError

from . import classification, regression

# the "study" key brian_decolle.results.write_config records -> the module that draws it
STUDIES = {"regression": regression, "mnist": classification, "dvs_gesture": classification,
           "events": classification}


def study_of(out_dir) -> str:
    """The study that wrote out_dir, from its config.json."""
    out = Path(out_dir)
    path = out / "config.json"
    if not out.is_dir():
        raise ConfigError(f"{out} is not a folder")
    if not path.is_file():
        raise ConfigError(f"{out} holds no config.json: not the output folder of a study run")
    try:
        study = json.loads(path.read_text()).get("study")
    except (json.JSONDecodeError, AttributeError):
        raise ConfigError(f"{path} is not a JSON object as the studies write it") from None
    if study not in STUDIES:
        raise ConfigError(f"{path} names study={study!r}; the figures know {', '.join(map(repr, STUDIES))}")
    return study


def figures(out_dir) -> dict[str, Figure]:
    """Every figure of out_dir that its files allow, by file name stem."""
    return STUDIES[study_of(out_dir)].figures(out_dir)


def draw(out_dir) -> list[Path]:
    """Every figure of out_dir saved as PNG in out_dir; returns the paths. A ConfigError names
    the folder and what it lacks."""
    return STUDIES[study_of(out_dir)].plot_all(out_dir)


def main(argv=None) -> int:
    """``figures OUT [OUT ...]``: draw each folder and print the paths; 2 on a bad folder."""
    parser = argparse.ArgumentParser(prog="figures", description="Draw the figures of study output folders "
                                     "from their saved files (no simulation is run).")
    parser.add_argument("out", nargs="+", help="output folder of a study (holds config.json)")
    args = parser.parse_args(argv)
    try:
        for out in args.out:
            for path in draw(out):
                print(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
