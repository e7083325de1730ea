"""The baseline of a sweep: its configurations run one after another with `brian-decolle regression`,
each compiling its own build, as without the sweep. Prints the total wall time and compares every
task's metric with the sweep's sweep.csv (a shared build re-run must give the same value).

    python benchmarks/sweep_baseline.py studies/sweep_regression.toml --out output/sweep_baseline \
        [--sweep output/sweep_sweep_regression]
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

from brian_decolle import sweep


def command(spec: sweep.SweepSpec, task: sweep.Task, out: Path) -> list[str]:
    """The `brian-decolle regression` command line of one task (every field an option of the study)."""
    argv = [sys.executable, "-m", "brian_decolle", "regression", "--out", str(out), "--device", spec.target.device,
            "--precision", spec.target.precision]
    for name, value in {**spec.base, **task.values}.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        argv += [f"--{name.split('.')[1].replace('_', '-')}", *map(str, values)]
    return argv


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec")
    parser.add_argument("--out", required=True)
    parser.add_argument("--sweep", default=None, help="the sweep's output folder, to compare the metric with")
    args = parser.parse_args(argv)
    spec = sweep.read_spec(args.spec)
    tasks = sweep.tasks(spec)
    out = Path(args.out)
    start = time.perf_counter()
    for k, task in enumerate(tasks, 1):
        folder = out / task.id
        if not (folder / "summary.json").is_file():
            done = subprocess.run(command(spec, task, folder), capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
        print(f"{k}/{len(tasks)} {task.values} {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    record = {"tasks": len(tasks), "compiles": len(tasks), "wall_time_s": round(wall, 1)}
    if args.sweep:
        with open(Path(args.sweep) / "sweep.csv", newline="") as f:
            swept = {row["task"]: row for row in csv.DictReader(f)}
        same = 0
        for task in tasks:
            summary = json.loads((out / task.id / "summary.json").read_text())
            same += sweep.flatten(summary)[spec.metric] == float(swept[task.id][spec.metric])
        record["metric_identical_to_the_sweep"] = f"{same} of {len(tasks)}"
    print(json.dumps(record))
    (out / "baseline.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
