"""DVS Gesture (paper Sec. 4.3): `python studies/dvs_gesture.py --help` lists every option."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for figures/

from brian_decolle import cli, gestures  # noqa: E402
from figures.classification import plot_all  # noqa: E402


def main(argv=None):
    return cli.main(gestures.STUDY, argv, plot=lambda out, study: plot_all(out, study.network.input_shape))


if __name__ == "__main__":
    main()
