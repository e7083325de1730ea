"""The one writer of a study's output folder: config.json, summary.json and npz files.

config.json records what is needed to run a result again: the composed
configuration, the device, the data, the command line, the package versions,
the commit and the date.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

PACKAGES = ("brian-decolle", "brian2", "brian2cuda", "numpy", "tonic")


def provenance() -> dict:
    """Versions, commit, command line and date of this run."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"versions": versions, "commit": commit, "command_line": [sys.executable, *sys.argv],
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def as_dict(config) -> dict:
    """A composed config (dataclasses inside dataclasses) as plain JSON-able values."""
    if dataclasses.is_dataclass(config):
        out = {}
        for f in dataclasses.fields(config):
            if f.init:
                out[f.name] = as_dict(getattr(config, f.name))
        return out
    if isinstance(config, (tuple, list)):
        return [as_dict(v) for v in config]
    return config


def write_config(out_dir, study: str, config, *, target, data: str, synthetic: bool) -> dict:
    """config.json: the composed config, where it ran (a devices.Target), the data and the provenance."""
    record = {"study": study, **as_dict(config), **target.describe(), "data_source": data, "synthetic_data": synthetic,
              **provenance()}
    _write_json(Path(out_dir) / "config.json", record)
    return record


def write_summary(out_dir, summary: dict) -> dict:
    _write_json(Path(out_dir) / "summary.json", summary)
    return summary


def write_arrays(out_dir, name: str, **arrays) -> Path:
    path = Path(out_dir) / name
    np.savez_compressed(path, **arrays)
    return path


def write_classification(history: dict, out_dir, *, task: str, data: str, synthetic: bool, target,
                         wall_time_s: float, n_classes: int, paper_accuracy: float | None) -> dict:
    """summary.json (headline: held-out test accuracy per layer) and results.npz (learning
    curves) from a training history; the chance level and the paper's accuracy for figures."""
    evals = history["evaluations"]
    final = evals[-1]
    done = history["samples_done"]
    summary = {
        "task": task, "data": data, "synthetic_data": synthetic, "device": target.device,
        "precision": target.precision, "n_classes": n_classes,
        "chance_accuracy": 1 / n_classes,
        # the paper's best-layer test accuracy on the real data set (None: not comparable)
        "paper_accuracy": None if synthetic else paper_accuracy,
        "training_samples": done, "batch": history["settings"]["network"]["batch"],
        "final_test": {"n_test": final["n_test"], "accuracy_per_layer": final["accuracy"],
                       "error_per_layer": [1 - a for a in final["accuracy"]]},
        # Table 1 form: test error per layer against training sample iterations
        "evaluations": [{"training_samples": e["samples"], "split": e.get("split", "test"), "n_test": e["n_test"],
                         "accuracy_per_layer": e["accuracy"],
                         "error_per_layer": [1 - a for a in e["accuracy"]]} for e in evals],
        # per layer at every evaluation: firing rate, silent units, membrane mean/std, weight ranges
        "health": [{"training_samples": e["samples"], "layers": e.get("health")} for e in evals],
        "initialisation": history.get("initialisation"),
        "wall_time_s": round(wall_time_s, 1),
        "train_time_s_per_sample": round(history["train_time_s"] / max(done, 1), 4),
        "test_time_s": round(history["test_time_s"], 1),
    }
    write_arrays(
        out_dir, "results.npz",
        eval_samples=np.array([e["samples"] for e in evals]),
        eval_accuracy=np.array([e["accuracy"] for e in evals]),
        eval_n_test=np.array([e["n_test"] for e in evals]),
        eval_split=np.array([e.get("split", "test") for e in evals]),
        train_samples=np.array([t["samples"] for t in history["train"]]),
        train_fit=np.array([t["fit"] for t in history["train"]]).reshape(len(history["train"]), -1),
        train_lr=np.array([t["lr"] for t in history["train"]]),
        eval_rate_hz=np.array([[h["rate_hz"] for h in e["health"]] for e in evals]),
        eval_silent_fraction=np.array([[np.nan if h["silent_fraction"] is None else h["silent_fraction"]
                                        for h in e["health"]] for e in evals]),
        data=np.array(("SYNTHETIC " if synthetic else "") + data))
    return write_summary(out_dir, summary)


def _write_json(path: Path, values: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2, default=str))
