"""The one writer of a study's output folder: config.json, summary.json and npz files.

config.json records what is needed to run a result again: the composed
configuration, the device, the data, the command line, the package versions,
the commit and the date.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import types
import typing
from importlib import metadata
from pathlib import Path

import numpy as np

from .checks import ConfigError

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


def from_dict(kind, values):
    """The inverse of :func:`as_dict`: a composed config of type ``kind`` from plain values (as read
    from a config.json). Keys that are not fields of a record (the device, the provenance) are left
    out; a field that is missing keeps its default; the record's own checks run as it is made."""
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        fields = {f.name: from_dict(hints[f.name], values[f.name]) for f in dataclasses.fields(kind)
                  if f.init and f.name in values}
        return kind(**fields)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        chosen = [a for a in args if a is not type(None)]
        if values is None:
            return None
        for option in chosen:   # the first shape that fits (e.g. float | tuple[float, ...])
            if isinstance(values, list) == (typing.get_origin(option) is tuple):
                return from_dict(option, values)
        return values
    if origin is tuple and isinstance(values, list):
        element = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        return tuple(from_dict(element or args[i], v) for i, v in enumerate(values))
    return values


#: what a study writes into its folder; --overwrite removes these (the build folder is kept: it is code)
RESULT_FILES = ("*.json", "*.npz", "*.png")


def prepare_output_dir(out_dir, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Refuse an output folder that is a file, cannot be written, or already holds results (unless
    resuming them or asked to overwrite, which removes the old results so that none mix with the
    new run's): a finished run is never replaced silently."""
    path = Path(out_dir)
    if path.exists() and not path.is_dir():
        raise ConfigError(f"out={str(out_dir)!r} is a file; give a folder (new or empty) for the results")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"out={str(out_dir)!r} lies inside {str(existing)!r}, which is a file; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"out={str(out_dir)!r} cannot be written here ({existing} is not writable)")
    if existing != path:
        _try_to_make(path, existing, out_dir)
    # config.json is written first: a folder holding nothing else is that of a run that failed before it
    # had results (or checkpoints), which the new run may replace
    held = sorted({p.name for pattern in RESULT_FILES for p in path.glob(pattern)} - {"config.json"}) \
        if path.is_dir() else []
    if held and not (resume or overwrite):
        raise ConfigError(f"out={str(out_dir)!r} already holds results ({', '.join(held)}); choose another "
                          "--out, --resume to continue that run, or --overwrite to replace it")
    if held and overwrite and not resume:
        for pattern in RESULT_FILES:
            for old in path.glob(pattern):
                old.unlink()
    return path


def _try_to_make(path: Path, existing: Path, out_dir) -> None:
    """Create the missing folders of ``path`` (below ``existing``) and remove them again: a folder that
    cannot be made (inside /proc, say) is refused now, and a refused run leaves nothing behind."""
    made = []
    try:
        missing = path.relative_to(existing)
        for folder in (*reversed(missing.parents[:-1]), missing):
            (existing / folder).mkdir()
            made.append(existing / folder)
    except OSError as err:
        raise ConfigError(f"out={str(out_dir)!r} cannot be created ({err.strerror or err}); give a folder "
                          "where this user can write") from err
    finally:
        for folder in reversed(made):
            folder.rmdir()


def read_record(path) -> dict:
    """A study's config.json, read back (for a re-run); ConfigError if it is not one."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"config={str(path)!r} is not a readable config.json: {err}") from err
    if not isinstance(record, dict) or "study" not in record:
        raise ConfigError(f"config={str(path)!r} is not a study's config.json (it has no 'study' entry)")
    return record


#: the rule derived from a custom cost (loss='custom'), written next to config.json
RULE_FILE = "rule.eqs"


def write_config(out_dir, study: str, config, *, target, data: str, synthetic: bool) -> dict:
    """config.json: the composed config, where it ran (a devices.Target), the data and the provenance."""
    record = {"study": study, **as_dict(config), **target.describe(), "data_source": data, "synthetic_data": synthetic,
              **provenance()}
    _write_json(Path(out_dir) / "config.json", record)
    network = getattr(config, "network", None)
    if getattr(network, "loss", None) == "custom":  # the derived rule, as equations a reader can check
        from .derive import rule_for
        (Path(out_dir) / RULE_FILE).write_text(rule_for(network).equations())
    return record


def write_summary(out_dir, summary: dict, name: str = "summary.json") -> dict:
    _write_json(Path(out_dir) / name, summary)
    return summary


def write_arrays(out_dir, name: str, **arrays) -> Path:
    path = Path(out_dir) / name
    np.savez_compressed(path, **arrays)
    return path


#: the fields of a synaptic_operations row that describe the layer rather than count work
OPERATION_LABELS = ("layer", "connections", "readout_connections")


def add_operations(total: dict, rows: list[dict], n_samples: int) -> None:
    """Add one run's per-layer work (``DecolleNetwork.synaptic_operations``), which held ``n_samples``
    samples, to ``total`` ({"samples": n, "layers": rows or None}; JSON, so a checkpoint keeps it)."""
    if total.get("layers") is None:
        total["layers"] = [dict(row) for row in rows]
    else:
        total["layers"] = [{key: value if key in OPERATION_LABELS else value + old[key] for key, value in row.items()}
                           for old, row in zip(total["layers"], rows)]
    total["samples"] = total.get("samples", 0) + n_samples


def operations_per_sample(total: dict) -> dict:
    """A phase's work per sample: {"samples": n, "per_sample": per-layer rows} (counts divided by n)."""
    n = total.get("samples", 0)
    rows = [{key: value if key in OPERATION_LABELS else round(value / n, 1) for key, value in row.items()}
            for row in total.get("layers") or []] if n else []
    return {"samples": n, "per_sample": rows}


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
        # synaptic work per training sample (learning on) and, apart, per test presentation (learning off)
        "synaptic_operations": {phase: operations_per_sample(total)
                                for phase, total in history.get("operations", {}).items()},
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
