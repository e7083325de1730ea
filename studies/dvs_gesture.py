"""DVS Gesture (paper Sec. 4.3): the same as `brian-decolle dvs-gesture`; `--help` lists every option and its default."""
from brian_decolle.commands import run_study


def main(argv=None):
    return run_study("dvs-gesture", argv)


if __name__ == "__main__":
    main()
