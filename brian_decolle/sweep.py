"""Parameter sweeps on Dask: ``brian-decolle sweep SPEC``.

A spec (TOML or JSON) names a study (regression, mnist, dvs-gesture or events), its preset, fixed
overrides (``base``), a ``grid`` (field -> values) and/or ``random`` ranges (field -> {low, high,
log}, with ``samples`` and a ``seed``), and the ``seeds`` (network.seed) every point runs with.
Fields are the ``part.field`` names of the command line. Every task is one configuration; its output folder
(OUT/tasks/<task id>/) is what ``brian-decolle STUDY`` writes, and a folder holding summary.json is
finished: a re-run skips it. A classification task stopped part way (a killed sweep) continues from its
last checkpoint (``--resume``), so a sweep longer than a sitting is run in parts by the same command.

Brian2's device is global to a process, so the tasks run in worker processes of one thread each.
On a standalone device the tasks are grouped by network structure (the composed config without
its run-time fields, :data:`RUNTIME_FIELDS`): a group compiles once, and every task of it re-runs
that build with its own values (:mod:`brian_decolle.runargs`; a classification study runs its
whole training loop on one :class:`~brian_decolle.classifier.SharedBuild`). With ``split``, a group
is cut into one chunk per idle worker, each of which compiles once. On the runtime device every task
simply runs the study (Cython's cache makes the compile once there).

Results gather into OUT/sweep.csv (every scalar of every task's summary.json), OUT/failures.json,
OUT/summary.json (tasks done, skipped, failed; compiles; wall time) and OUT/figures/*.png.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import gc
import hashlib
import itertools
import json
import math
import os
import re
import shutil
import sys
import time
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cli, devices, events, gestures, mnist, progress, regression, results, runargs, training
from .checks import ConfigError
from .classifier import SharedBuild
from .data.events import sensor_of
from .data.gestures import SPLITS, check_data_dir

#: studies a sweep runs (by their command names), and their modules
STUDIES = {"regression": regression, "mnist": mnist, "dvs-gesture": gestures, "events": events}
#: the studies that train and test a classifier (training.train_and_test), on a SharedBuild per group
CLASSIFICATION = ("mnist", "dvs-gesture", "events")
#: run-time fields of every classification study: values of the network's state variables (the seed's
#: weights, readouts and time constants; dropout, regulariser weights, burn-in, error threshold) and the
#: run_args of every run (learned state, lr), or Python's side of the training loop (the schedule)
_CLASSIFIER_FIELDS = (
    "network.seed", "network.lr", "network.lr_scale", "network.dropout", "network.weight_scale",
    "network.readout_amplitude", "network.reg_u", "network.reg_rate", "network.error_threshold", "network.burnin_ms",
    "network.homeostasis_tau_s", "network.homeostasis_hz", "network.homeostasis_window_s",
    "schedule.train_ms", "schedule.train_samples", "schedule.eval_every", "schedule.eval_samples",
    "schedule.eval_spacing", "schedule.checkpoint_every", "schedule.init", "schedule.init_samples",
    "schedule.init_u_mean", "schedule.init_u_std", "schedule.init_rate_hz", "schedule.init_tolerance",
    "schedule.init_iterations", "schedule.lr_drop_every", "schedule.lr_drop_factor")
#: per study, the config fields that only change values (state variables, TimedArrays, the seed, the
#: Python-side schedule and data), never the generated code: tasks differing only in these share one
#: build. network.reg_rate is one while it stays > 0 (the regulariser's population exists only when
#: reg_rate > 0; STRUCTURAL_SIGNS), as is network.homeostasis_tau_s (its units likewise). Namespace
#: constants (the optimisers', u_offset, rate_target), sizes, test_ms (the build's run length)
#: and the data's shape are structure.
RUNTIME_FIELDS = {
    "regression": ("network.seed", "network.lr", "network.lr_scale", "network.dropout", "network.weight_scale",
                   "network.readout_amplitude", "network.reg_u", "network.reg_rate", "network.error_threshold",
                   "network.burnin_ms", "task.input_rate_hz", "task.fast_hz", "task.slow_hz"),
    "mnist": _CLASSIFIER_FIELDS + ("data.n_train", "data.n_test", "data.n_validation", "data.max_rate_hz"),
    "dvs-gesture": _CLASSIFIER_FIELDS + ("data.n_test", "data.validation_users", "data.frames"),
    # (data_dir, tonic_dataset and downsample set the input shape and the classes: structure)
    "events": _CLASSIFIER_FIELDS + ("data.n_test", "data.n_validation", "data.frames"),
}
#: run-time fields whose sign (> 0 or not) is structural
STRUCTURAL_SIGNS = {study: ("network.reg_rate",) + (("network.homeostasis_tau_s",) if study in CLASSIFICATION
                                                    else ()) for study in STUDIES}
#: the metric each study tabulates unless the spec names another: settings are chosen on the
#: validation split, never on the test set
DEFAULT_METRIC = {"regression": "layer3.nmse_after_training_lr0",
                  **dict.fromkeys(CLASSIFICATION, "validation.best_accuracy")}
#: what a classification task's row holds besides its summary's scalars (:func:`classification_scalars`);
#: layerN stands for layer1 .. the network's last layer
CLASSIFICATION_METRICS = ("validation.best_accuracy", "validation.layerN.accuracy", "test.best_accuracy",
                          "test.layerN.accuracy", "health.layerN.rate_median_hz", "wall_time_s",
                          "train_time_s_per_sample")
#: the scalars a study's summary.json holds, flattened (what a spec's metric may name; see :func:`metrics`)
METRICS = {"regression": tuple(f"layer{k}.{name}" for k in (1, 2, 3) for name in
                               ("nmse_first_epoch", "nmse_last_epoch", "nmse_after_training_lr0", "mean_rate_hz"))
           + ("wall_time_s",),
           **dict.fromkeys(CLASSIFICATION, CLASSIFICATION_METRICS)}
#: the field that holds a classification study's validation split out of its training data (0: none)
VALIDATION_FIELDS = {"mnist": "data.n_validation", "dvs-gesture": "data.validation_users",
                     "events": "data.n_validation"}
SPEC_KEYS = ("study", "preset", "base", "grid", "random", "seeds", "metric", "device", "codegen_target", "precision")
RANDOM_KEYS = ("samples", "seed")
SPEC_FILE = "spec.json"


@dataclass(frozen=True)
class Range:
    """A random field's range: uniform in [low, high], or log-uniform (log=True, low > 0)."""

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep spec (see :func:`check_spec`)."""

    study: str
    preset: str
    seeds: tuple[int, ...]
    metric: str
    base: dict = dataclasses.field(default_factory=dict)      # field -> value
    grid: dict = dataclasses.field(default_factory=dict)      # field -> tuple of values
    random: dict = dataclasses.field(default_factory=dict)    # field -> Range
    samples: int = 0                                           # random points (with random fields)
    sample_seed: int = 0
    target: devices.Target = devices.Target()

    @property
    def swept(self) -> tuple[str, ...]:
        """The fields that vary, seeds last."""
        return tuple(self.grid) + tuple(self.random) + ("network.seed",)


@dataclass(frozen=True)
class Task:
    """One configuration of a sweep: its id (a hash of the composed config and the target, stable across
    re-runs), the swept values, and the composed config."""

    id: str
    values: dict
    config: object


def fields_of(study: str) -> dict:
    """'part.field' -> default value, for every field of the study's composed config."""
    module = STUDIES[study]
    composed = module.preset(module.PRESETS[0])
    out = {}
    for part in dataclasses.fields(composed):
        value = getattr(composed, part.name)
        if dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                if f.init:
                    out[f"{part.name}.{f.name}"] = getattr(value, f.name)
    return out


def metrics(study: str, n_layers: int) -> tuple[str, ...]:
    """The metrics a spec of ``study`` may name, for a network of ``n_layers`` layers."""
    out = []
    for name in METRICS[study]:
        out += [name.replace("layerN", f"layer{k}") for k in range(1, n_layers + 1)] if "layerN" in name else [name]
    return tuple(out)


def compose(study: str, preset: str, values: dict):
    """The study's preset with ``values`` ('part.field' -> value) in place; the configs check them."""
    module = STUDIES[study]
    return cli.with_values(module.preset(preset), values)


def check_spec(raw: dict) -> SweepSpec:
    """A sweep spec as read from TOML or JSON, checked: a ConfigError names the bad key and what is
    allowed (unknown keys and fields, empty lists, bad ranges, a field swept twice, and any task's
    configuration that its own checks refuse)."""
    if not isinstance(raw, dict):
        raise ConfigError("a sweep spec is a table of keys (TOML or a JSON object)")
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        raise ConfigError(f"spec key(s) {', '.join(unknown)} unknown; allowed: {', '.join(SPEC_KEYS)}")
    study = raw.get("study", "regression")
    if study not in STUDIES:
        raise ConfigError(f"study={study!r}: sweeps run {', '.join(map(repr, STUDIES))} (the studies whose "
                          "compiled builds re-run with new values)")
    module = STUDIES[study]
    preset = raw.get("preset", module.PRESETS[0])
    if preset not in module.PRESETS:
        raise ConfigError(f"preset={preset!r} is not a {study} preset; choose one of {', '.join(module.PRESETS)}")
    known = fields_of(study)

    def field_name(where, name):
        if name not in known:
            raise ConfigError(f"{where} names field {name!r}, which the {study} study lacks; its fields: "
                              f"{', '.join(sorted(known))}")
        return name

    base, grid, ranges = (_table(raw, key) for key in ("base", "grid", "random"))
    base = {field_name("base", k): v for k, v in base.items()}
    for name, values in grid.items():
        field_name("grid", name)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid {name!r} must be a non-empty list of values, not {values!r}")
    samples, sample_seed = ranges.pop("samples", 0), ranges.pop("seed", 0)
    random = {field_name("random", name): check_range(name, spec) for name, spec in ranges.items()}
    if random:
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise ConfigError(f"random samples={samples!r} must be a positive integer (the random points drawn)")
        if not isinstance(sample_seed, int) or isinstance(sample_seed, bool) or sample_seed < 0:
            raise ConfigError(f"random seed={sample_seed!r} must be an integer >= 0")
    elif samples:
        raise ConfigError("random samples is given but no random field: add 'part.field' = {low, high, log}")
    seeds = raw.get("seeds", [0])
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise ConfigError(f"seeds={seeds!r} must be a non-empty list of integers >= 0 (each sets network.seed)")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds={seeds!r} repeats a seed")
    places = [("base", base), ("grid", grid), ("random", random)]
    for (a, first), (b, second) in itertools.combinations(places + [("seeds", {"network.seed": 0})], 2):
        both = sorted(set(first) & set(second))
        if both:
            raise ConfigError(f"{', '.join(both)} is set in both {a} and {b}; give each field one place")
    metric = raw.get("metric", DEFAULT_METRIC[study])
    # (a layer of a classification metric is checked against each task's network by check_metric)
    known = isinstance(metric, str) and "layerN" not in metric and (
        metric in METRICS[study] or re.sub(r"\.layer\d+\.", ".layerN.", metric) in METRICS[study])
    if not known:
        raise ConfigError(f"metric={metric!r} is not a scalar of the {study} summary; choose one of "
                          f"{', '.join(METRICS[study])}" + (" (layerN: layer1 .. the network's last layer)"
                                                           if study in CLASSIFICATION else ""))
    target = dict(cli.TARGET_DEFAULTS, **{k: raw[k] for k in ("device", "codegen_target", "precision") if k in raw})
    spec = SweepSpec(study=study, preset=preset, seeds=tuple(seeds), metric=metric, base=base,
                     grid={k: tuple(v) for k, v in grid.items()}, random=random, samples=samples if random else 0,
                     sample_seed=sample_seed, target=devices.Target(**target))
    every = tasks(spec)   # every configuration checked now, before any worker starts
    for task in every:
        check_metric(spec, task)
    return spec


def check_metric(spec: SweepSpec, task: Task) -> None:
    """The metric exists for the task: its layer is in the network, and a validation metric has a
    validation split and an evaluation on it after training began."""
    allowed = metrics(spec.study, task.config.network.n_layers)
    if spec.metric not in allowed:
        raise ConfigError(f"metric={spec.metric!r}: the configuration {task.values} has "
                          f"{task.config.network.n_layers} layers; choose one of {', '.join(allowed)}")
    if not spec.metric.startswith("validation."):
        return
    field = VALIDATION_FIELDS[spec.study]
    part, name = field.split(".")
    if getattr(getattr(task.config, part), name) == 0:   # (the events study's None: a tenth held out)
        raise ConfigError(f"metric={spec.metric!r} reads the validation split, which {field}=0 leaves out "
                          f"(configuration {task.values}); set {field} > 0 or choose a test.* metric")
    schedule = task.config.schedule
    if schedule.eval_every >= schedule.train_samples:
        raise ConfigError(f"metric={spec.metric!r} reads the last evaluation before the end of training, which "
                          f"with schedule.eval_every={schedule.eval_every} >= schedule.train_samples="
                          f"{schedule.train_samples} is the one before training; set schedule.eval_every below "
                          "train_samples")


def _table(raw: dict, key: str) -> dict:
    table = raw.get(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{key} must be a table of 'part.field' keys, not {table!r}")
    return dict(table)


def check_range(name: str, spec) -> Range:
    """{low, high, log}: low < high, finite; log needs low > 0."""
    if not isinstance(spec, dict) or set(spec) - {"low", "high", "log"} or not {"low", "high"} <= set(spec):
        raise ConfigError(f"random {name!r} must be {{low = ..., high = ..., log = true|false}}, not {spec!r}")
    low, high, log = spec["low"], spec["high"], spec.get("log", False)
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in (low, high))
    if not numbers or not low < high:
        raise ConfigError(f"random {name!r}: low={low!r}, high={high!r} must be finite numbers with low < high")
    if not isinstance(log, bool):
        raise ConfigError(f"random {name!r}: log={log!r} must be true or false")
    if log and low <= 0:
        raise ConfigError(f"random {name!r}: log=true needs low > 0 (low={low!r})")
    return Range(float(low), float(high), log)


def read_spec(path) -> SweepSpec:
    """A spec file (.toml or .json), checked."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"spec {str(path)!r} is not a file")
    try:
        raw = tomllib.loads(path.read_text()) if path.suffix == ".toml" else json.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"spec {str(path)!r} is not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: {err}")
    return check_spec(raw)


def points(spec: SweepSpec) -> list[dict]:
    """The grid's product times the random points (drawn from the spec's seed), without the seeds."""
    grid = [dict(zip(spec.grid, combo)) for combo in itertools.product(*spec.grid.values())]
    rng = np.random.default_rng(spec.sample_seed)
    defaults = fields_of(spec.study)
    drawn = []
    for _ in range(spec.samples):
        point = {}
        for name, r in spec.random.items():
            x = float(np.exp(rng.uniform(np.log(r.low), np.log(r.high))) if r.log else rng.uniform(r.low, r.high))
            point[name] = int(round(x)) if isinstance(defaults[name], int) else x
        drawn.append(point)
    return [{**g, **d} for g in grid for d in (drawn or [{}])]


def _digest(values) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:12]


def tasks(spec: SweepSpec) -> list[Task]:
    """Every configuration of the sweep, checked (a ConfigError names the values a config refuses)."""
    out = []
    for point in points(spec):
        for seed in spec.seeds:
            values = {**point, "network.seed": seed}
            try:
                config = compose(spec.study, spec.preset, {**spec.base, **values})
            except (ConfigError, TypeError) as err:
                raise ConfigError(f"the configuration {values} (with base {spec.base}) is refused: {err}") from None
            out.append(Task(_digest([results.as_dict(config), spec.target.describe()]), values, config))
    return out


def group_key(spec: SweepSpec, config) -> str:
    """The id of a task's network structure: the composed config without its run-time fields (a
    structural sign kept as a sign), and the device and precision."""
    values = results.as_dict(config)
    for name in RUNTIME_FIELDS[spec.study]:
        part, field = name.split(".")
        value = values[part].pop(field)
        if name in STRUCTURAL_SIGNS[spec.study]:
            values[part][f"{field} > 0"] = value > 0
    return _digest([values, spec.target.describe()])


def chunks(spec: SweepSpec, todo: list[Task], workers: int, split: bool) -> list[tuple[str, list[Task]]]:
    """(group id, tasks) to run, one compile each: one per structure group, or with ``split`` each
    group cut into up to ceil(workers / groups) chunks so that no worker is left idle."""
    groups: dict[str, list[Task]] = {}
    for task in todo:
        groups.setdefault(group_key(spec, task.config), []).append(task)
    if not spec.target.device.endswith("standalone"):   # runtime: nothing to share, one task per chunk
        return [(gid, [task]) for gid, members in groups.items() for task in members]
    out = []
    for gid, members in groups.items():
        parts = min(len(members), math.ceil(workers / len(groups))) if split else 1
        out += [(gid, members[k::parts]) for k in range(parts)]
    return out


# ---- on a worker ----------------------------------------------------------------------------------
@contextlib.contextmanager
def _output_to(path: Path):
    """This process's stdout and stderr (file descriptors: the compiler and the C++ program too) into
    a log file, so that workers do not write over the client's progress bar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush(), sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(path, "a") as log:
        os.dup2(log.fileno(), 1), os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def _resume(folder: Path) -> dict:
    """A classification task's folder that holds a checkpoint (its sweep was stopped part way) continues from it."""
    return {"resume": True} if (folder / training.CHECKPOINT).is_file() else {}


def _failure(task: Task, err: BaseException, folder: Path) -> dict:
    record = {"task": task.id, "status": "failed", "values": task.values,
              "error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
    results.write_summary(folder, record, name="error.json")
    return record


def run_chunk(study: str, target: devices.Target, group: str, build_dir: str, todo: list[Task], out: str) -> dict:
    """Run a chunk's tasks in this (worker) process; write each task's folder OUT/tasks/<id>/.
    Standalone: one build, compiled once and re-run with each task's values. Returns the tasks'
    records (status, error) and the compiles and compile time."""
    module, out = STUDIES[study], Path(out)
    records, compiles, compile_s = [], 0, 0.0
    folders = {task.id: out / "tasks" / task.id for task in todo}
    for folder in folders.values():
        (folder / "error.json").unlink(missing_ok=True)
    if not target.device.endswith("standalone"):
        for task in todo:
            try:
                with _output_to(folders[task.id] / "log.txt"):
                    resume = _resume(folders[task.id]) if study in CLASSIFICATION else {}
                    module.run(task.config, folders[task.id], target=target, **resume)
                records.append({"task": task.id, "status": "done"})
            except Exception as err:   # a failed task is reported and the sweep goes on
                records.append(_failure(task, err, folders[task.id]))
        return {"records": records, "compiles": 0, "compile_s": 0.0}
    build = Path(build_dir)
    target = dataclasses.replace(target, build_dir=str(build))
    if study in CLASSIFICATION:
        return _classification_chunk(module, target, group, todo, folders)
    try:
        try:
            with _output_to(build.parent / f"{build.name}.log"):   # (kept: the build folder is not)
                target.select()
                dn = module.make_network(todo[0].config)
                shape = runargs.structure(dn.network)
                module.record_runs(dn, todo[0].config, target)
                start = time.perf_counter()
                devices.build(run=False)
                compile_s, compiles = time.perf_counter() - start, 1
        except Exception as err:
            return {"records": [_failure(task, err, folders[task.id]) for task in todo], "compiles": 0,
                    "compile_s": 0.0}
        for task in todo:
            folder = folders[task.id]
            try:
                with _output_to(folder / "log.txt"):
                    start = time.perf_counter()
                    values = _values(module, task, shape)
                    module.write_config(task.config, folder, target)
                    devices.run_again(runargs.run_args(dn.network, values), seed=task.config.network.seed)
                    module.collect(dn, task.config, folder, target, time.perf_counter() - start,
                                   shared_build={"group": group, "compile_s": round(compile_s, 1),
                                                 "compiled_for": todo[0].id})
                records.append({"task": task.id, "status": "done"})
            except Exception as err:
                records.append(_failure(task, err, folder))
    finally:
        shutil.rmtree(build, ignore_errors=True)   # the disk holds one build per worker at most
    return {"records": records, "compiles": compiles, "compile_s": compile_s}


def _classification_chunk(module, target: devices.Target, group: str, todo: list[Task], folders: dict) -> dict:
    """A classification chunk on a standalone device: every task runs its study on one SharedBuild, compiled
    by the first task that reaches it (its log.txt holds the compiler's output) and re-run by the others
    with their own values; the build folder is deleted at the end."""
    shared, records, compiled_for = SharedBuild(target), [], None
    try:
        for task in todo:
            folder = folders[task.id]
            try:
                with _output_to(folder / "log.txt"):
                    summary = module.run(task.config, folder, target=target, shared=shared,
                                         **_resume(folder))
                compiled_for = compiled_for or (task.id if shared.compiles else None)
                results.write_summary(folder, {**summary, "shared_build": {
                    "group": group, "compile_s": round(shared.compile_s, 1), "compiled_for": compiled_for}})
                records.append({"task": task.id, "status": "done"})
            except Exception as err:   # a failed task is reported and the sweep goes on
                records.append(_failure(task, err, folder))
    finally:   # the disk holds one group's builds (training and test-only) per worker at most
        for build in (target.build_dir, target.for_testing().build_dir):
            shutil.rmtree(build, ignore_errors=True)
    return {"records": records, "compiles": shared.compiles, "compile_s": shared.compile_s}


def _values(module, task: Task, shape) -> dict:
    """The start values of the task's network, built on the runtime device (never run); its structure
    must be the shared build's."""
    with runargs.on_runtime():
        twin = module.start_network(task.config)
        try:
            same = runargs.structure(twin.network) == shape
            values = runargs.start_values(twin.network) if same else None
        finally:
            del twin
            gc.collect()   # (its Brian2 objects go now, while the runtime device is current)
    if values is None:
        raise ConfigError(f"task {task.id} ({task.values}) does not have the shared build's structure: a field "
                          "taken for a run-time value changes the generated code")
    return values


# ---- on the client --------------------------------------------------------------------------------
def import_distributed():
    """dask.distributed, or a ConfigError naming the extra that installs it."""
    try:
        import distributed
    except ImportError as err:
        raise ConfigError("sweeps run on Dask, which is not installed: pip install 'brian-decolle[sweep]'") from err
    return distributed


def dashboard_available() -> bool:
    """Dask's dashboard needs bokeh (not a dependency of the [sweep] extra)."""
    try:
        import bokeh  # noqa: F401
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None):
    """A Dask client of the cluster at ``scheduler``, or of an embedded LocalCluster of worker processes
    with one thread each (Brian2's device is global to a process)."""
    distributed = import_distributed()
    if scheduler:
        try:
            client = distributed.Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as err:
            raise ConfigError(f"scheduler={scheduler!r}: no Dask scheduler answers there ({err})") from None
        with client:
            yield client
        return
    import logging
    cluster = distributed.LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                       processes=True, silence_logs=logging.ERROR,
                                       dashboard_address=":0")   # (any free port: sweeps may run side by side)
    with cluster, distributed.Client(cluster) as client:
        yield client


def check_data(spec: SweepSpec, todo: list[Task]) -> None:
    """Before any worker starts: the data the tasks read are there (DVS Gesture's splits, an event
    dataset's description); a ConfigError says what is missing. Nothing is downloaded or written."""
    for data in {task.config.data for task in todo if spec.study in ("dvs-gesture", "events")}:
        if spec.study == "dvs-gesture":
            for split in SPLITS:
                check_data_dir(data.data_dir, split)
        else:
            sensor_of(data.data_dir, data.tonic_dataset)


def classification_scalars(summary: dict) -> dict:
    """What a classification sweep compares, from a task's summary.json: per layer and for the best layer,
    the accuracy of the last intermediate evaluation if it ran on the validation split (validation.*; its
    training samples too) and of the final test (test.*), and each layer's median firing rate at the final
    test (health.*)."""
    *intermediate, final = summary["evaluations"]
    picked = [("test", final)]
    if intermediate and intermediate[-1]["split"] == "validation":
        picked.append(("validation", intermediate[-1]))
    out = {"validation.training_samples": intermediate[-1]["training_samples"]} if len(picked) == 2 else {}
    for name, evaluation in picked:
        accuracy = evaluation["accuracy_per_layer"]
        out.update({f"{name}.layer{k}.accuracy": a for k, a in enumerate(accuracy, start=1)})
        out[f"{name}.best_accuracy"] = max(accuracy)
    for layer in summary["health"][-1]["layers"] or []:
        out[f"health.layer{layer['layer']}.rate_median_hz"] = layer["rate_median_hz"]
    return out


def flatten(summary: dict, prefix: str = "") -> dict:
    """The scalars of a summary.json by dotted name; per-layer records become layerN.name (under
    "layers" at the top: layer3.nmse_after_training_lr0)."""
    out = {}
    for key, value in summary.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list) and value and all(isinstance(v, dict) and "layer" in v for v in value):
            inner = prefix if key == "layers" else f"{prefix}{key}."
            for record in value:
                out.update(flatten({k: v for k, v in record.items() if k != "layer"},
                                   f"{inner}layer{record['layer']}."))
        elif isinstance(value, list):
            out.update({f"{prefix}{key}.{k}": v for k, v in enumerate(value) if isinstance(v, (int, float, str))})
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[f"{prefix}{key}"] = value
    return out


def spec_record(spec: SweepSpec) -> dict:
    """The checked spec as JSON (OUT/spec.json; the figures read the swept fields and the metric there)."""
    return {"study": spec.study, "preset": spec.preset, "base": spec.base, "grid": spec.grid,
            "random": {k: dataclasses.asdict(r) for k, r in spec.random.items()}, "samples": spec.samples,
            "sample_seed": spec.sample_seed, "seeds": spec.seeds, "metric": spec.metric,
            "swept": spec.swept, "runtime_fields": RUNTIME_FIELDS[spec.study], **spec.target.describe()}


def run_sweep(spec: SweepSpec, out, *, scheduler: str | None = None, workers: int | None = None,
              split: bool = False, report=progress.say) -> dict:
    """Run every task of ``spec`` that OUT does not hold finished; write OUT/sweep.csv, failures.json,
    summary.json and figures/. Failed tasks are reported there, never stop the sweep."""
    out = Path(out).resolve()
    results.prepare_output_dir(out, resume=True)   # (a file, or a folder that cannot be written, is refused)
    every = tasks(spec)
    finished = {t.id for t in every if (out / "tasks" / t.id / "summary.json").is_file()}
    todo = [t for t in every if t.id not in finished]
    check_data(spec, todo)
    results.write_summary(out, spec_record(spec), name=SPEC_FILE)
    for task in todo:
        (out / "tasks" / task.id / "error.json").unlink(missing_ok=True)
    report(f"sweep of {len(every)} tasks: {len(finished)} finished before (skipped), {len(todo)} to run")
    start = time.perf_counter()
    outcome = {"records": [], "compiles": 0, "compile_s": 0.0, "chunks": 0, "workers": 0, "dashboard": None}
    if todo:
        with _client(scheduler, workers) as client:
            outcome.update(_run_on(client, spec, todo, out, split, report))
    wall = time.perf_counter() - start
    return gather(spec, out, every, finished, outcome, wall, scheduler, split, report)


def _run_on(client, spec: SweepSpec, todo: list[Task], out: Path, split: bool, report) -> dict:
    distributed = import_distributed()
    n_workers = max(1, len(client.scheduler_info()["workers"]))
    dashboard = client.dashboard_link if dashboard_available() else None
    report(f"Dask dashboard: {dashboard}" if dashboard else
           "Dask dashboard: off (it needs bokeh: pip install bokeh)")
    planned = chunks(spec, todo, n_workers, split)
    futures = {}
    for k, (gid, members) in enumerate(planned):
        future = client.submit(run_chunk, spec.study, spec.target, gid, str(out / "builds" / f"{gid}-{k}"),
                               members, str(out), pure=False, key=f"sweep-{gid}-{k}-{time.time_ns()}")
        futures[future] = members
    report(f"{len(planned)} chunk(s) of {len(todo)} tasks on {n_workers} worker(s)"
           + (f", {len({gid for gid, _ in planned})} network structure(s)" if spec.target.device != "runtime" else ""))
    outcome = {"records": [], "compiles": 0, "compile_s": 0.0, "chunks": len(planned), "workers": n_workers,
               "dashboard": dashboard}
    pending = set(futures)
    with progress.bar(len(todo), "sweep", unit="task") as shown:
        while pending:
            try:
                done = distributed.wait(pending, timeout=2, return_when="FIRST_COMPLETED").done
            except TimeoutError:   # (nothing ended within 2 s: the bar still follows the task folders)
                done = set()
            pending -= done
            for future in done:
                try:
                    got = future.result()
                except Exception as err:   # a worker that died (a crash, memory): its chunk's tasks fail
                    got = {"records": [_failure(t, err, out / "tasks" / t.id) for t in futures[future]],
                           "compiles": 0, "compile_s": 0.0}
                outcome["records"] += got["records"]
                outcome["compiles"] += got["compiles"]
                outcome["compile_s"] += got["compile_s"]
            shown.update(sum(_ended(out, t) for t in todo) - shown.n)
    return outcome


def _ended(out: Path, task: Task) -> bool:
    folder = out / "tasks" / task.id
    return (folder / "summary.json").is_file() or (folder / "error.json").is_file()


def gather(spec, out: Path, every, finished, outcome, wall, scheduler, split, report) -> dict:
    """sweep.csv, failures.json, summary.json and the figures of a sweep's tasks; the failures printed."""
    failed = {r["task"]: r for r in outcome["records"] if r["status"] == "failed"}
    for record in outcome["records"]:   # written on a worker that does not share this file system
        if record["status"] == "done" and not (out / "tasks" / record["task"] / "summary.json").is_file():
            failed[record["task"]] = {**record, "status": "failed", "error": (
                "its worker wrote the results where this machine cannot see them: OUT must lie on a file system "
                "every worker shares"), "traceback": ""}
    rows, failures = [], []
    for task in every:
        row = {"task": task.id, "group": group_key(spec, task.config), **task.values}
        if task.id not in failed:   # (the summary's scalars first: the sweep's own columns win a name they share)
            summary = json.loads((out / "tasks" / task.id / "summary.json").read_text())
            derived = classification_scalars(summary) if spec.study in CLASSIFICATION else {}
            row = {**flatten(summary), **derived, **row}
        if task.id in failed:
            record = failed[task.id]
            row.update(status="failed", error=record["error"])
            failures.append({"task": task.id, "values": task.values, "config": results.as_dict(task.config),
                             "error": record["error"], "traceback": record.get("traceback", "")})
        else:
            row["status"] = "skipped" if task.id in finished else "done"
        rows.append(row)
    write_table(out / "sweep.csv", rows, spec)
    results.write_summary(out, {"failures": failures}, name="failures.json")
    summary = {"study": spec.study, "metric": spec.metric, "tasks": len(every),
               "done": sum(r["status"] == "done" for r in rows), "skipped": len(finished), "failed": len(failures),
               "groups": len({r["group"] for r in rows}), "chunks": outcome["chunks"], "compiles": outcome["compiles"],
               "compile_s": round(outcome["compile_s"], 1), "split": split, "workers": outcome["workers"],
               "scheduler": scheduler or "LocalCluster", "dashboard": outcome["dashboard"],
               "wall_time_s": round(wall, 1), **spec.target.describe(), "provenance": results.provenance()}
    results.write_summary(out, summary)
    from .figures import sweep as sweep_figures   # matplotlib only when figures are drawn
    summary["figures"] = [str(p) for p in sweep_figures.plot_all(out)]
    results.write_summary(out, summary)
    report(f"{summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed; "
           f"{summary['compiles']} compile(s); {wall:.0f} s")
    for failure in failures:
        report(f"FAILED {failure['task']} {failure['values']}: {failure['error']}")
    return summary


def write_table(path: Path, rows: list[dict], spec: SweepSpec) -> None:
    """sweep.csv: task, status, group, the swept fields, the metric, then every other scalar; error last."""
    first = ["task", "status", "group", *spec.swept, spec.metric]
    rest = sorted({k for row in rows for k in row} - set(first) - {"error"})
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=first + rest + ["error"])
        writer.writeheader()
        writer.writerows(rows)


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(
        prog="brian-decolle sweep", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run a parameter sweep (a TOML or JSON spec: study, preset, base, grid and/or random, seeds, "
                    "metric, device) on Dask. Tasks that differ only in run-time values share one compiled build. "
                    "Writes OUT/tasks/<id>/ (each task's study output), sweep.csv, failures.json, summary.json "
                    "and figures/; a re-run skips finished tasks.")
    made.add_argument("spec", metavar="SPEC", help="the sweep spec (.toml or .json); see studies/sweep_regression.toml")
    made.add_argument("--out", default=None, help="output folder (default: output/sweep_<spec name>)")
    made.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="a running Dask scheduler (e.g. tcp://host:8786) whose workers see OUT "
                           "(default: an embedded LocalCluster)")
    made.add_argument("--workers", type=int, default=None,
                      help="worker processes of the embedded LocalCluster, one thread each (default: the CPU count)")
    made.add_argument("--split", action="store_true",
                      help="cut a structure group into one chunk per idle worker (each compiles once) instead of "
                           "compiling each group once")
    return made


def main(argv=None) -> int:
    made = parser()
    args = made.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        made.error(f"--workers {args.workers}: give at least 1")
    try:
        spec = read_spec(args.spec)
        out = args.out or f"output/sweep_{Path(args.spec).stem}"
        summary = run_sweep(spec, out, scheduler=args.scheduler, workers=args.workers, split=args.split)
    except ConfigError as exc:
        made.error(str(exc))
    except KeyboardInterrupt:
        print("\nbrian-decolle sweep: interrupted; finished tasks are kept and a re-run skips them", file=sys.stderr)
        return 130
    print(f"table, figures and failures in {Path(out).resolve()}: sweep.csv, figures/, failures.json")
    return 1 if summary["failed"] else 0
