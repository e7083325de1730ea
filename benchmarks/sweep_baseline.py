"""The baseline of a sweep: its configurations run one after another with `brian-decolle regression`,
each compiling its own build, as without the sweep. Prints the total wall time and the compiles it
counted, and compares every task's metric with the sweep's sweep.csv (a shared build re-run must give
the same value). The tasks draw no figures, as a sweep's tasks draw none.

    python benchmarks/sweep_baseline.py studies/sweep_regression.toml --out output/sweep_baseline \
        [--sweep output/sweep_sweep_regression]
"""
from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from brian_decolle import sweep


#: `brian-decolle regression` without drawing its figures at the end (cli.main with no plot)
WITHOUT_FIGURES = ("import sys; from brian_decolle import cli, regression; "
                   "cli.main(regression.STUDY, sys.argv[1:], prog='brian-decolle regression')")
#: the line progress.building prints when a standalone build is compiled
BUILT = re.compile(r"^built .* in (\d+) s$", re.MULTILINE)


def command(spec: sweep.SweepSpec, task: sweep.Task, out: Path) -> list[str]:
    """The `brian-decolle regression` command line of one task (every field an option of the study),
    without its figures."""
    argv = [sys.executable, "-c", WITHOUT_FIGURES, "--out", str(out), "--device", spec.target.device,
            "--codegen", spec.target.codegen_target, "--precision", spec.target.precision]
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
    ran, compile_s = 0, []
    for k, task in enumerate(tasks, 1):
        folder = out / task.id
        if not (folder / "summary.json").is_file():   # (a re-run skips finished tasks: they are not timed)
            done = subprocess.run(command(spec, task, folder), capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-2000:], file=sys.stderr)
                return 1
            ran += 1
            compile_s += [int(seconds) for seconds in BUILT.findall(done.stdout)]
        print(f"{k}/{len(tasks)} {task.values} {time.perf_counter() - start:.0f} s", flush=True)
    wall = time.perf_counter() - start
    record = {"tasks": len(tasks), "tasks_run": ran, "compiles": len(compile_s), "compile_s": sum(compile_s),
              "wall_time_s": round(wall, 1)}
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
