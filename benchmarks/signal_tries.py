"""Signal a tiny MNIST run at random moments; count exit codes, and whether --resume then finishes it.

Issue 23's check that SIGTERM and Ctrl-C always stop a run with exit 130 and a finite checkpoint
(the test suite runs the same at four fixed moments, tests/test_reliability.py). Runtime device,
6 training samples of 60 ms, a checkpoint after each; about 20 s per try on this VM.

    python benchmarks/signal_tries.py TRIES FOLDER [--after config|checkpoint] [--max-delay S] [--seed N]

--after: start the clock when config.json appears (the run is starting: LSUV, the first samples) or
when the first checkpoint does (between checkpoints); the signal (SIGTERM twice as often as SIGINT)
follows after a delay drawn uniformly from [0, --max-delay] seconds.
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from brian_decolle.training import read_checkpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tries", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--after", choices=("config", "checkpoint"), default="config")
    parser.add_argument("--max-delay", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    random.seed(args.seed)
    marker = "config.json" if args.after == "config" else "checkpoint.npz"
    codes, stopped_and_resumed = {}, 0
    for k in range(args.tries):
        out = args.folder / f"run{k}"
        shutil.rmtree(out, ignore_errors=True)
        argv = [sys.executable, "-m", "brian_decolle", "mnist", "--network", "small", "--device", "runtime",
                "--codegen", "numpy", "--n-train", "20", "--n-test", "10", "--n-validation", "0",
                "--train-samples", "6", "--eval-every", "100", "--eval-samples", "2", "--checkpoint-every", "1",
                "--train-ms", "60", "--test-ms", "60", "--burnin-ms", "10", "--init", "uniform", "--out", str(out)]
        env = {**os.environ, "MPLBACKEND": "Agg"}
        run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        while not (out / marker).exists() and run.poll() is None:
            time.sleep(0.02)
        delay = random.uniform(0, args.max_delay)
        time.sleep(delay)
        alive = run.poll() is None
        sig = random.choice([signal.SIGTERM, signal.SIGTERM, signal.SIGINT])
        run.send_signal(sig)
        _, err = run.communicate()
        finite = samples = None
        if (out / "checkpoint.npz").exists():
            state, history = read_checkpoint(out / "checkpoint.npz")
            finite = all(np.all(np.isfinite(v)) for v in state.values())
            samples = history["samples_done"]
        resumed = subprocess.run(argv + ["--resume"], capture_output=True, text=True, env=env)
        done = json.loads((out / "summary.json").read_text())["training_samples"] if resumed.returncode == 0 else None
        print(f"try {k}: {signal.Signals(sig).name} after {delay:.2f} s, still running {alive}, exit {run.returncode}, "
              f"traceback {'Traceback' in err}, checkpoint at {samples} samples, finite {finite}, "
              f"resume exit {resumed.returncode}, samples after resume {done}", flush=True)
        codes[run.returncode] = codes.get(run.returncode, 0) + 1
        stopped_and_resumed += run.returncode == 130 and finite is not False and done == 6
        shutil.rmtree(out, ignore_errors=True)
    print(f"exit codes: {codes}; stopped with 130 and resumed to the end: {stopped_and_resumed} of {args.tries}")


if __name__ == "__main__":
    main()
