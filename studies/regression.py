"""Regression (paper Sec. 4.1, Fig. 1): `python studies/regression.py --help` lists every option."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import cli, regression  # noqa: E402
from figures.regression import plot_all  # noqa: E402


def main(argv=None):
    return cli.main(regression.STUDY, argv, plot=lambda out, study: plot_all(out))


if __name__ == "__main__":
    main()
