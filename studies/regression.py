"""Regression (paper Sec. 4.1, Fig. 1): the same as `brian-decolle regression`; `--help` lists every option and its default."""
from brian_decolle.commands import run_study


def main(argv=None):
    return run_study("regression", argv)


if __name__ == "__main__":
    main()
