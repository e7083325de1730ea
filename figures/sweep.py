"""Figures of a parameter sweep (``brian-decolle sweep``), from OUT/sweep.csv and OUT/spec.json only.

    plot_all(out_dir)       # figures/<metric>_vs_<field>.png for every swept field; returns the paths

One figure per swept field: the metric against the field's values, the mean over seeds with the
standard deviation as error bars, one line per combination of the other swept fields. An accuracy
metric gets the chance level as a dashed line (the NMSE of the regression task has none); the title
says SYNTHETIC when the tasks learned from synthetic input or data. No pyplot (see the package docstring).
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from brian_decolle.checks import ConfigError

#: the summary flags (sweep.csv columns) that say a task learned from synthetic input or data, and what the
#: title then says
SYNTHETIC_FLAGS = {"synthetic_input": "SYNTHETIC input", "synthetic_data": "SYNTHETIC data"}
DPI = 110
#: lines drawn per figure at most (the other fields' combinations beyond are averaged over)
MAX_LINES = 8


def load(out_dir) -> tuple[dict, list[dict]]:
    """spec.json and the finished rows of sweep.csv (metric as float)."""
    out = Path(out_dir)
    for name in ("spec.json", "sweep.csv"):
        if not (out / name).is_file():
            raise ConfigError(f"{out} holds no {name}: not the output folder of a sweep")
    spec = json.loads((out / "spec.json").read_text())
    with open(out / "sweep.csv", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["status"] != "failed" and row.get(spec["metric"])]
    return spec, rows


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


def data_label(rows: list[dict]) -> str:
    """', SYNTHETIC input' (or data) when any task learned from synthetic input or data (its flag 'True'), else ''."""
    said = [text for flag, text in SYNTHETIC_FLAGS.items() if any(row.get(flag) == "True" for row in rows)]
    return "".join(f", {text}" for text in said)


def chance_level(spec: dict, rows: list[dict]) -> float | None:
    """The chance accuracy of an accuracy metric (the tasks' chance_accuracy), else None."""
    levels = {float(row["chance_accuracy"]) for row in rows if row.get("chance_accuracy")}
    return min(levels) if "accuracy" in spec["metric"] and levels else None


def metric_against(spec: dict, rows: list[dict], field: str) -> Figure:
    """The metric against one swept field: mean and std over seeds, a line per other fields' values, and the
    chance level of an accuracy metric."""
    metric = spec["metric"]
    others = [f for f in spec["swept"] if f not in (field, "network.seed")]
    lines: dict[tuple, dict] = {}
    for row in rows:
        key = tuple(row[o] for o in others)
        lines.setdefault(key, {}).setdefault(_number(row[field]), []).append(float(row[metric]))
    if len(lines) > MAX_LINES:   # too many to tell apart: the other fields averaged over, with the seeds
        merged: dict = {}
        for points in lines.values():
            for x, ys in points.items():
                merged.setdefault(x, []).extend(ys)
        lines, others = {("all",): merged}, ["(other fields averaged)"]
    fig = Figure(figsize=(6.0, 4.2), dpi=DPI)
    ax = fig.add_subplot()
    for key, points in sorted(lines.items()):
        xs = sorted(points, key=lambda x: (isinstance(x, str), x))
        means = [np.mean(points[x]) for x in xs]
        stds = [np.std(points[x]) for x in xs]
        label = ", ".join(f"{o}={k}" for o, k in zip(others, key)) if others else None
        ax.errorbar(range(len(xs)) if any(isinstance(x, str) for x in xs) else xs, means, yerr=stds, marker="o",
                    capsize=3, label=label)
        if any(isinstance(x, str) for x in xs):
            ax.set_xticks(range(len(xs)), [str(x) for x in xs])
    values = [x for points in lines.values() for x in points if not isinstance(x, str)]
    if values and min(values) > 0 and max(values) / min(values) >= 20:
        ax.set_xscale("log")
    chance = chance_level(spec, rows)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", label=f"chance ({chance:.3g})")
    seeds = len(spec["seeds"])
    ax.set_xlabel(field)
    ax.set_ylabel(f"{metric}\n(mean ± std over {seeds} seed{'s' * (seeds > 1)})")
    ax.set_title(f"{spec['study']}{data_label(rows)}:\n{metric} against {field}", fontsize=10)
    if any(label for label in ax.get_legend_handles_labels()[1]):
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_all(out_dir) -> list[Path]:
    """One PNG per swept field (seeds excepted) in OUT/figures/; none when no task finished."""
    spec, rows = load(out_dir)
    folder = Path(out_dir) / "figures"
    folder.mkdir(exist_ok=True)
    paths = []
    for field in spec["swept"]:
        if field == "network.seed" or not rows:
            continue
        path = folder / f"{spec['metric'].replace('.', '_')}_vs_{field.replace('.', '_')}.png"
        metric_against(spec, rows, field).savefig(path)
        paths.append(path)
    return paths
