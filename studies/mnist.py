"""Poisson MNIST (paper Sec. 4.2): the same as `brian-decolle mnist`; `--help` lists every option and its default."""
from brian_decolle.commands import run_study


def main(argv=None):
    return run_study("mnist", argv)


if __name__ == "__main__":
    main()
