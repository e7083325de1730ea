"""The ``brian-decolle`` command: one sub-command per study, and one that draws figures.

    brian-decolle regression [options]      paper Sec. 4.1, Fig. 1
    brian-decolle mnist [options]           paper Sec. 4.2 (Poisson MNIST)
    brian-decolle dvs-gesture [options]     paper Sec. 4.3 (DVS Gesture, needs the [dvs] extra)
    brian-decolle figures OUT [OUT ...]     the figures of any study's output folder

``brian-decolle STUDY --help`` lists a study's options with their defaults. The scripts in
``studies/`` call the same functions.
"""
from __future__ import annotations

import sys
from importlib import metadata

from . import cli, gestures, mnist, regression

#: sub-command -> the study it runs
STUDIES = {"regression": regression.STUDY, "mnist": mnist.STUDY, "dvs-gesture": gestures.STUDY}
SUMMARY = {"regression": "regression with a frozen Poisson input (paper Sec. 4.1, Fig. 1)",
           "mnist": "Poisson MNIST (paper Sec. 4.2)",
           "dvs-gesture": "DVS Gesture (paper Sec. 4.3, Table 1); --synthetic for the SYNTHETIC stand-in",
           "figures": "draw the figures of study output folders: figures OUT [OUT ...]"}


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
    print(f"{usage()}\n\nbrian-decolle: error: unknown command {command!r}; choose one of {', '.join(SUMMARY)}",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
