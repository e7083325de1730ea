"""A classification sweep's tasks as a Markdown table for RESULTS.md: what each task changed, its intermediate
accuracies, its final test per layer, and each hidden layer's health after training.

    python benchmarks/sweep_table.py SWEEP_OUT [--fields network.lr,network.seed]

Reads SWEEP_OUT/spec.json (the swept fields, unless --fields names them) and SWEEP_OUT/tasks/*/summary.json and
config.json; a task without summary.json (not finished) is listed as such. Health (the last evaluation, the
final test): median rate, fraction of units above 300 Hz, silent fraction of the units the input reaches, u's
standard deviation.
"""
import argparse
import json
from pathlib import Path


def value(config: dict, field: str):
    part, name = field.split(".", 1)
    return config[part][name]


def swept_fields(folder: Path) -> list[str]:
    spec = json.loads((folder / "spec.json").read_text())
    fields = list(spec.get("grid", {})) + list(spec.get("random", {}))
    return fields + (["network.seed"] if len(spec.get("seeds", [])) > 1 else [])


def row(task: Path, fields: list[str]) -> str:
    config = json.loads((task / "config.json").read_text())
    cells = [str(value(config, f)) for f in fields]
    if not (task / "summary.json").exists():
        return "| " + " | ".join(cells + ["not finished"] + [""] * 4) + " |"
    s = json.loads((task / "summary.json").read_text())
    intermediate = " / ".join(f"{max(e['accuracy_per_layer']):.3f} @{e['training_samples']}"
                              for e in s["evaluations"][1:-1])
    final = s["final_test"]
    health = "; ".join(f"L{h['layer']} {h['rate_median_hz']:.0f} Hz, {100 * h['fast_fraction']:.1f} %, "
                       f"{100 * h['silent_reached_fraction']:.1f} %, {h['u_std']:.2f}"
                       for h in s["health"][-1]["layers"])
    return "| " + " | ".join(cells + [
        intermediate, " / ".join(f"{a:.3f}" for a in final["accuracy_per_layer"]) + f" ({final['n_test']})",
        health, f"{s['train_time_s_per_sample']:.3f}", f"{s['wall_time_s']:.0f}"]) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--fields", help="comma-separated config fields to show (default: the swept ones)")
    args = parser.parse_args()
    fields = args.fields.split(",") if args.fields else swept_fields(args.folder)
    print("| " + " | ".join(fields + ["best-layer accuracy of the intermediate tests", "final test per layer (digits)",
                                      "after training: median, > 300 Hz, silent (reached), u std",
                                      "train s/sample", "wall s"]) + " |")
    print("|" + "---|" * (len(fields) + 5))
    rows = [row(task, fields) for task in sorted((args.folder / "tasks").iterdir()) if task.is_dir()]
    for line in sorted(rows):
        print(line)


if __name__ == "__main__":
    main()
