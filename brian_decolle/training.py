"""Online classification with DECOLLE: labelled spike trains in, accuracy per layer out.

Shared by the Poisson-MNIST, DVS Gesture and event-dataset (events) studies. Every layer's local
readout learns the one-hot class label as its pseudo-target at every step after
the burn-in; a sample's class, per layer, is the majority vote of the per-step
argmax of the readout after the burn-in (decolle-public's test).

One network (:class:`~brian_decolle.classifier.OnlineClassifier`) is built for
one test presentation and B replicas (a minibatch sharing every weight): a
training run packs several training windows back to back per replica (each
starting from rest, with its own burn-in). Tests run on a second network, built
for testing only (the same forward pass and readouts without the rule's code, so
a test costs the forward pass alone; on standalone devices compiled once beside
the training build): each test run presents one test sequence per replica with
learning and dropout off, with the learned state of the moment. Before training, the
weights are initialised from data (LSUV, :mod:`brian_decolle.initialisation`)
unless the schedule says 'uniform'; the learning rate drops by a factor every
``lr_drop_every`` training samples; every evaluation reports each layer's health.

Everything that defines a run -- the order of training samples, their random
windows or Poisson draws, the dropout seed of every run -- follows from the
network seed and the sample's position, so a resumed run continues exactly
where the checkpoint was written.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from . import devices, progress, stopping
from .checks import ConfigError, check_choice, check_count, check_finite, check_non_negative, check_positive
from .classifier import OnlineClassifier, SampleSource, SharedBuild, votes
from .config import NetworkConfig
from .health import Activity, layer_health, warnings
from .initialisation import lsuv
from .results import add_operations

CHECKPOINT = "checkpoint.npz"


class Steps(NamedTuple):
    train: int    # one training sample
    test: int     # one test presentation (the build's run length)
    burnin: int   # no learning and no vote during a sample's first steps


INITS = ("lsuv", "uniform")
EVAL_SPACINGS = ("even", "doubling")


@dataclass(frozen=True)
class Schedule:
    """How long samples last, how long training lasts, how it starts, how its learning rate
    falls, and when it is tested and saved (counted in training samples). Time step,
    burn-in, learning rate and seed are the network's."""

    train_ms: float = 500.0     # one training sample
    test_ms: float = 1000.0     # one test presentation
    train_samples: int = 4000   # training sample iterations in all
    eval_every: int = 1000      # test after this many training samples ...
    eval_samples: int = 200     # ... on this many test samples (the final test uses them all)
    eval_spacing: str = "even"  # 'even': again every eval_every samples; 'doubling': after eval_every, twice,
                                # four times as many ... (a learning curve on a log axis)
    checkpoint_every: int = 100  # save the learned state after this many training samples
    n_raster: int = 32          # layer-1 units whose spikes the recorded test sample keeps
    init: str = "lsuv"          # 'lsuv': data-driven initialisation; 'uniform': as built
    init_samples: int = 8       # training samples each LSUV measurement runs
    init_rate_hz: float = 40.0  # LSUV shifts each channel's bias until it fires at this mean rate (Hz) ...
    init_u_mean: float = 0.0    # ... or, with init_rate_hz 0, until u has this mean (decolle-public: 0) ...
    init_u_std: float = 0.5     # ... and scales the weights until u has this standard deviation
    init_tolerance: float = 0.1  # LSUV stops when u's mean and std are this close to their targets ...
    init_iterations: int = 5    # ... or after this many measurements per layer
    lr_drop_every: int | None = None  # training samples between learning-rate drops (None: no drop)
    lr_drop_factor: float = 0.2  # the learning rate is multiplied by this at every drop

    def __post_init__(self):
        for name in ("train_samples", "eval_every", "eval_samples", "checkpoint_every", "n_raster",
                     "init_samples", "init_iterations"):
            check_count(name, getattr(self, name))
        for name in ("train_ms", "test_ms", "init_tolerance", "lr_drop_factor", "init_u_std"):
            check_positive(name, getattr(self, name))
        check_finite("init_u_mean", self.init_u_mean)
        check_non_negative("init_rate_hz", self.init_rate_hz)
        check_choice("init", self.init, INITS)
        check_choice("eval_spacing", self.eval_spacing, EVAL_SPACINGS)
        if self.lr_drop_every is not None:
            check_count("lr_drop_every", self.lr_drop_every)

    def next_evaluation(self, done: int) -> int:
        """The number of training samples, more than ``done``, after which the next intermediate test is due."""
        if self.eval_spacing == "even":
            return (done // self.eval_every + 1) * self.eval_every
        due = self.eval_every
        while due <= done:
            due *= 2
        return due

    def steps(self, cfg: NetworkConfig) -> Steps:
        """The schedule's durations in time steps of ``cfg``; ConfigError if a sample is no
        longer than the burn-in."""
        steps = Steps(cfg.steps(self.train_ms), cfg.steps(self.test_ms), cfg.steps(cfg.burnin_ms))
        for name, n in (("train_ms", steps.train), ("test_ms", steps.test)):
            if n <= steps.burnin:
                raise ConfigError(f"{name}={getattr(self, name)!r} must exceed the burn-in "
                                  f"(burnin_ms={cfg.burnin_ms!r})")
        return steps

    def windows(self, cfg: NetworkConfig) -> list[tuple[int, int]]:
        """(start, length) in steps of the training windows packed into one run of a test
        presentation's length; a cut-off window too short to learn from stays silent."""
        steps = self.steps(cfg)
        out, start = [], 0
        while start < steps.test:
            length = min(steps.train, steps.test - start)
            if length > steps.burnin:
                out.append((start, length))
            start += length
        return out

    def lr(self, cfg: NetworkConfig, samples_done: int) -> float:
        """The learning rate after samples_done training samples (step decay)."""
        drops = 0 if self.lr_drop_every is None else samples_done // self.lr_drop_every
        return cfg.lr * self.lr_drop_factor ** drops


@dataclass(frozen=True)
class ClassificationStudy:
    """The composed configuration of one classification run: network, schedule, data (the
    study's own record) and the name of the preset it started from."""

    network: NetworkConfig
    schedule: Schedule
    data: object
    preset: str

    def __post_init__(self):
        self.schedule.steps(self.network)


def decolle_recipe(lr: float) -> dict:
    """decolle-public's own learning recipe ('part.field' -> value; ``--preset decolle``), for comparison:
    Adamax with betas (0, 0.95) stepping at every time step with the study's learning rate ``lr``, the
    readout reading spikes through dropout 0.5, LSUV to u mean 0 and std 1."""
    return {"network.optimiser": "adamax", "network.lr": lr, "network.update_every": "step",
            "network.adamax_decay": 0.95, "network.readout_input": "spike", "network.dropout": 0.5,
            "schedule.init": "lsuv", "schedule.init_rate_hz": 0.0, "schedule.init_u_mean": 0.0,
            "schedule.init_u_std": 1.0}


class Diverged(ConfigError):
    """Training produced a weight that is not finite (too large a learning rate)."""


def differences(old, new, prefix: str = "") -> list[str]:
    """Every setting that differs between two nested dicts, as 'part.field: old -> new'."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [line for key in sorted(old.keys() | new.keys(), key=str)
                for line in differences(old.get(key), new.get(key), f"{prefix}{key}.")]
    return [] if old == new else [f"{prefix[:-1]}: {old!r} -> {new!r}"]


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """The learned state and the history a checkpoint holds; ConfigError if it is truncated or
    not a checkpoint (the file is then left as it is, for whoever wants to look at it)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            history = json.loads(str(saved["history"]))
            return {k: saved[k] for k in saved.files if k != "history"}, history
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise ConfigError(f"resume: {path} is truncated or not a checkpoint ({type(err).__name__}: {err}); "
                          "move it away to start again, or use another --out folder") from err


def check_resume(cfg: NetworkConfig, schedule: Schedule, out_dir) -> tuple[dict, dict] | None:
    """The state and history of the checkpoint in out_dir that a resumed run continues (None if there is
    none); ConfigError naming every setting it was written with that differs. A study calls it before it
    writes anything, so that a refused --resume leaves the folder as it was."""
    checkpoint = Path(out_dir) / CHECKPOINT
    if not checkpoint.exists():
        return None
    state, history = read_checkpoint(checkpoint)
    changed = differences(history["settings"], json.loads(json.dumps(_settings(cfg, schedule))))
    if changed:
        raise ConfigError(f"resume: the checkpoint in {out_dir} was written with other settings ("
                          f"{'; '.join(changed)}); use the same options or another --out folder")
    return state, history


def _settings(cfg: NetworkConfig, schedule: Schedule) -> dict:
    """What a checkpoint records of the settings it was written with."""
    return {"network": cfg.to_dict(), "schedule": dataclasses.asdict(schedule)}


def _state_matches(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


class _Runs:
    """Packs samples into runs of the classifier and adds up what they give."""

    def __init__(self, clf: OnlineClassifier, schedule: Schedule, source: SampleSource):
        self.clf, self.source, self.cfg = clf, source, clf.cfg
        self.steps, self.windows = schedule.steps(self.cfg), schedule.windows(self.cfg)
        self.per_run = self.cfg.batch * len(self.windows)
        self.operations = {"samples": 0, "layers": None}   # synaptic work of the runs counted (results.add_operations)

    def count(self, recorded, n_samples) -> None:
        """Add a run's synaptic work (where the run counted it) to ``operations``."""
        if recorded[0]["operations"] is not None:
            add_operations(self.operations, [layer["operations"] for layer in recorded], n_samples)

    def train(self, samples, state, *, learn, lr, seed, activity=None):
        """One run over training samples [(index, seed), ...] (at most per_run): every window of
        every replica holds one. Returns the state after, and the fraction of samples whose
        vote matched their label per layer (the readout is fit online to that label)."""
        stopping.check()   # (training checks between runs itself, saving first; this stops LSUV's measurements)
        cfg, steps, B = self.cfg, self.steps, self.cfg.batch
        spikes = np.zeros((steps.test, B, cfg.n_inputs))
        labels = np.full((steps.test, B), -1)
        starts = np.zeros(steps.test)
        truth = []
        for slot, (index, sample_seed) in enumerate(samples):
            w, b = divmod(slot, B)
            offset, length = self.windows[w]
            starts[offset] = 1
            x, label = self.source.train_sample(index, length, seed=sample_seed)
            spikes[offset:offset + length, b] = x
            labels[offset:offset + length, b] = label
            truth.append((w, b, label))
        y, state, _, recorded = self.clf.run(spikes.reshape(steps.test, -1), labels, starts, state, learn=learn,
                                             lr=lr, seed=seed)
        if activity is not None:
            activity.add(recorded, B, steps.test)
        if learn:
            self.count(recorded, len(samples))
        right = np.zeros(cfg.n_layers)
        for w, b, label in truth:
            offset, length = self.windows[w]
            for k in range(cfg.n_layers):
                right[k] += votes(y[k, offset:offset + length, b:b + 1], steps.burnin)[0] == label
        return state, right / len(truth)

    def test(self, n_samples, state, *, seed, split="test", keep_recording=False, bar=None):
        """Test samples 0 .. n_samples-1 of the split ('test' or 'validation'): per layer the
        predicted classes, the labels, the activity, and (keep_recording) the first sample's recording."""
        get = self.source.test_sample if split == "test" else self.source.validation_sample
        cfg, steps, B = self.cfg, self.steps, self.cfg.batch
        predictions = np.zeros((cfg.n_layers, n_samples), dtype=int)
        labels = np.zeros(n_samples, dtype=int)
        activity, recording = Activity(cfg), None
        for first in range(0, n_samples, B):
            stopping.check()   # (an intermediate evaluation saves the checkpoint first: train_and_test)
            chunk = range(first, min(first + B, n_samples))
            spikes = np.zeros((steps.test, B, cfg.n_inputs))
            for b, index in enumerate(chunk):
                spikes[:, b], labels[index] = get(index, steps.test)
            starts = np.eye(1, steps.test)[0]
            y, _, rec, recorded = self.clf.run(spikes.reshape(steps.test, -1), np.full((steps.test, B), -1), starts,
                                               state, learn=False, seed=seed)
            activity.add(recorded, len(chunk), steps.test)
            self.count(recorded, len(chunk))
            if bar is not None:
                bar.update(len(chunk))
            for k in range(cfg.n_layers):
                predictions[k, first:first + len(chunk)] = votes(y[k], steps.burnin)[:len(chunk)]
            if keep_recording and recording is None:
                recording = {"input": spikes[:, 0], "label": np.array(labels[0]), "readout_y": y[:, :, 0], **rec}
        return predictions, labels, activity, recording


def activity_of(runs: _Runs, n_samples: int, seed: int) -> Callable[[dict], Activity]:
    """measure(state): the Activity of the network on the same n_samples training samples (drawn once
    from the seed; rounded up to whole runs, since a replica without a sample would count as silence),
    learning and dropout off. What LSUV measures."""
    n_measured = math.ceil(n_samples / runs.per_run) * runs.per_run
    chosen = np.resize(np.random.default_rng([seed, 99]).permutation(runs.source.n_train), n_measured)
    measured = [(int(i), seed * 1_000_003 + 10 ** 9 + n) for n, i in enumerate(chosen)]

    def measure(state):
        activity = Activity(runs.cfg)
        for first in range(0, len(measured), runs.per_run):
            runs.train(measured[first:first + runs.per_run], state, learn=False, lr=None, seed=seed,
                       activity=activity)
        return activity
    return measure


@functools.lru_cache(maxsize=2)
def epoch_order(seed: int, epoch: int, n_train: int) -> np.ndarray:
    """The order of the training samples in one pass over them (a function of seed and epoch), read only."""
    order = np.random.default_rng([seed, epoch]).permutation(n_train)
    order.flags.writeable = False
    return order


def train_and_test(cfg: NetworkConfig, schedule: Schedule, source: SampleSource, out_dir, *,
                   target: devices.Target = devices.Target(), resume: bool = False,
                   report: Callable[[str], None] | None = None, shared: SharedBuild | None = None) -> dict:
    """Initialise, train online on the source's training samples and test per layer; write
    checkpoint.npz, test_sample.npz, predictions.npz and learned.npz into out_dir; return the
    history (a dict). With resume=True a checkpoint in out_dir is continued (same settings).
    Training (and LSUV) runs on the plastic network, every test on a network built for testing
    only; on standalone devices each is compiled once, the first in the target's build folder
    (default out_dir/build), the second beside it (out_dir/build_test). shared: builds compiled once
    for many configurations of this structure (a sweep's), which this run re-runs with its own values,
    instead of builds of its own."""
    report = report or progress.say
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = cfg.seed
    target = target.with_build_dir(out_dir / "build")
    run_steps = schedule.steps(cfg).test
    if shared is not None:
        clf = shared.classifier(cfg, source.n_classes, run_steps, n_raster=schedule.n_raster, report=report)
        tests = _Runs(shared.classifier(_for_testing(cfg), source.n_classes, run_steps, n_raster=schedule.n_raster,
                                        plastic=False, report=report), schedule, source)
    else:
        with progress.building("the network (once; every training run re-uses it)", target.device, report):
            clf = OnlineClassifier(cfg, source.n_classes, run_steps, target=target, n_raster=schedule.n_raster)
        # every test, intermediate and final, on a build without the rule's code, compiled once beside it
        tests = _test_runs(cfg, schedule, source, target.for_testing(), report)
    runs = _Runs(clf, schedule, source)
    n_runs = math.ceil(schedule.train_samples / runs.per_run)
    settings = _settings(cfg, schedule)
    state = clf.initial_state()
    history = {"settings": settings, "samples_done": 0, "runs_done": 0, "train": [], "evaluations": [],
               "initialisation": None, "train_time_s": 0.0, "test_time_s": 0.0}
    checkpoint = out_dir / CHECKPOINT
    resumed = check_resume(cfg, schedule, out_dir) if resume else None
    if resumed:
        loaded, old = resumed
        if not _state_matches(loaded, state):
            raise ConfigError(f"resume: the checkpoint in {out_dir} does not fit this network")
        state, history = loaded, old
        report(f"resuming after {history['samples_done']} training samples")
    elif schedule.init == "lsuv":
        measure = activity_of(runs, schedule.init_samples, seed)
        state, history["initialisation"] = lsuv(clf.dn, state, measure, tolerance=schedule.init_tolerance,
                                                iterations=schedule.init_iterations, seed=seed, report=report,
                                                u_mean=schedule.init_u_mean, u_std=schedule.init_u_std,
                                                rate_hz=schedule.init_rate_hz or None)
    # the synaptic work, training runs and test runs apart, kept in the history (and so in the checkpoint)
    history.setdefault("operations", {"training": runs.operations, "test": tests.operations})
    runs.operations, tests.operations = history["operations"]["training"], history["operations"]["test"]

    def save():
        tmp = out_dir / (CHECKPOINT + ".tmp.npz")
        np.savez(tmp, history=np.array(json.dumps(history)), **state)
        tmp.replace(checkpoint)

    # settings are chosen on held-out training samples; the test set is used once, at the end
    n_validation = getattr(source, "n_validation", 0)
    split = "validation" if n_validation else "test"

    def evaluate(n_samples, final=False):
        start = time.perf_counter()
        which = "test" if final else split
        with progress.bar(n_samples, f"{which} ({'final' if final else 'intermediate'})") as shown:
            predictions, labels, activity, recording = tests.test(n_samples, state, seed=seed, split=which,
                                                                  keep_recording=final, bar=shown)
        history["test_time_s"] += time.perf_counter() - start
        accuracy = (predictions == labels).mean(axis=1)
        health = layer_health(activity, state)
        history["evaluations"].append({"samples": history["samples_done"], "split": which, "n_test": n_samples,
                                       "accuracy": accuracy.tolist(), "health": health, "final": final})
        for line in warnings(health):
            report(line)
        return accuracy, predictions, labels, recording

    if history["evaluations"] and history["evaluations"][-1].get("final"):
        report("this run is complete: nothing to resume")
        return history
    total = min(schedule.train_samples, n_runs * runs.per_run)
    n_eval = min(schedule.eval_samples, n_validation or source.n_test)
    next_eval = schedule.next_evaluation(history["samples_done"])
    next_save = (history["samples_done"] // schedule.checkpoint_every + 1) * schedule.checkpoint_every
    if not history["evaluations"]:
        report(f"before training: {split} accuracy per layer {_fmt(evaluate(n_eval)[0])}")

    def sample(k):
        """Training sample number k of the whole run: (index, seed)."""
        epoch, position = divmod(k, source.n_train)
        return int(epoch_order(seed, epoch, source.n_train)[position]), seed * 1_000_003 + k

    training = progress.bar(total, "training", initial=history["samples_done"])

    def evaluate_due():
        """The intermediate evaluation after a run. A stop asked for during it saves the checkpoint with the
        evaluation still due, which --resume does first."""
        history["evaluation_due"] = True
        try:
            accuracy = evaluate(n_eval)[0]
        except stopping.Interrupted:
            training.close()
            save()
            raise
        history["evaluation_due"] = False
        report(f"after {history['samples_done']} samples: {split} accuracy per layer {_fmt(accuracy)}")

    while history["runs_done"] < n_runs:
        if history.get("evaluation_due"):   # (resumed from a stop during it)
            evaluate_due()
        if stopping.requested():   # between whole runs and their evaluations: --resume continues exactly here
            training.close()
            save()
            stopping.check()
        run_index = history["runs_done"]
        start = time.perf_counter()
        lr = schedule.lr(cfg, history["samples_done"])
        first = run_index * runs.per_run
        state, fit = runs.train([sample(k) for k in range(first, first + runs.per_run)], state, learn=True, lr=lr,
                                seed=seed * 7919 + 1 + run_index)
        elapsed = time.perf_counter() - start
        broken = sorted(name for name, values in state.items() if not np.all(np.isfinite(values)))
        if broken:
            training.close()
            kept = (f"the last finite checkpoint ({history['samples_done']} samples) is {checkpoint}"
                    if checkpoint.exists() else "no checkpoint was written yet")
            raise Diverged(f"training diverged in the run after {history['samples_done']} samples: "
                           f"{', '.join(broken)} hold NaN or inf; {kept}. Lower lr (now {lr:g}).")
        history["train_time_s"] += elapsed
        history["runs_done"] += 1
        history["samples_done"] = done = min(total, history["runs_done"] * runs.per_run)
        history["train"].append({"samples": done, "fit": fit.tolist(), "lr": lr})
        training.update(done - training.n)
        rate = history["train_time_s"] / done
        # a readout fit online to the same label: a training figure, never "accuracy"
        report(f"trained {done}/{total} samples  train (readout fit online) {_fmt(fit)}  lr {lr:.3g}  "
               f"{elapsed / runs.per_run:.2f} s/sample  eta {(total - done) * rate / 60:.1f} min")
        if next_eval <= done < total:
            evaluate_due()
            next_eval = schedule.next_evaluation(done)
        if done >= next_save or done >= total:
            save()
            next_save = (done // schedule.checkpoint_every + 1) * schedule.checkpoint_every
    training.close()
    accuracy, predictions, labels, recording = evaluate(source.n_test, final=True)
    report(f"final test ({source.n_test} samples): accuracy per layer {_fmt(accuracy)}")
    save()
    np.savez_compressed(out_dir / "test_sample.npz", **recording)
    np.savez_compressed(out_dir / "predictions.npz", predictions=predictions, labels=labels)
    np.savez_compressed(out_dir / "learned.npz", **state)
    # the learned weights in decolle/PyTorch's layout: w (out, in) or (out_ch, in_ch, kh, kw), b
    weights = {}
    for spec in cfg.layers:
        weights[f"layer{spec.index}_w"] = clf.dn.kernel_layout(spec.index, state[f"layer{spec.index}_w"])
        if spec.bias:
            weights[f"layer{spec.index}_b"] = state[f"layer{spec.index}_b"]
    np.savez_compressed(out_dir / "weights.npz", **weights)
    return history


def evaluate(cfg: NetworkConfig, schedule: Schedule, source: SampleSource, state: dict, build_dir, *,
             target: devices.Target = devices.Target(), n_test: int | None = None,
             report: Callable[[str], None] | None = None) -> dict:
    """Test a learned state on the source's test samples without training: on a network built for
    testing only (no code of the rule), so a test costs the forward pass alone. Returns the accuracy
    per layer, the predictions and the labels."""
    report = report or progress.say
    n_test = source.n_test if n_test is None else n_test
    check_count("n_test", n_test)
    if n_test > source.n_test:
        raise ConfigError(f"n_test={n_test} must lie in 1..{source.n_test}, the test samples the data hold")
    runs = _test_runs(cfg, schedule, source, target.with_build_dir(build_dir), report)
    missing = sorted(set(runs.clf.initial_state()) - set(state))
    if missing:
        raise ConfigError(f"the learned state lacks {', '.join(missing)}: it is not of this network")
    start = time.perf_counter()
    with progress.bar(n_test, "test (no plasticity)") as shown:
        predictions, labels, _, _ = runs.test(n_test, state, seed=cfg.seed, bar=shown)
    accuracy = (predictions == labels).mean(axis=1)
    report(f"test ({n_test} samples): accuracy per layer {_fmt(accuracy)}")
    return {"n_test": n_test, "accuracy_per_layer": accuracy.tolist(),
            "error_per_layer": (1 - accuracy).tolist(), "test_time_s": round(time.perf_counter() - start, 1),
            "predictions": predictions, "labels": labels}


def _test_runs(cfg: NetworkConfig, schedule: Schedule, source: SampleSource, target: devices.Target,
               report: Callable[[str], None]) -> _Runs:
    """Runs on a network built for testing only (no code of the rule: a test costs the forward pass
    alone; on standalone devices compiled once, in the target's build folder)."""
    cfg = _for_testing(cfg)
    with progress.building("a network for testing only (no plasticity)", target.device, report):
        clf = OnlineClassifier(cfg, source.n_classes, schedule.steps(cfg).test, target=target,
                               n_raster=schedule.n_raster, plastic=False)
    return _Runs(clf, schedule, source)


def _for_testing(cfg: NetworkConfig) -> NetworkConfig:
    """The configuration of a test-only network: nothing learns there, and the forward pass is the same."""
    return dataclasses.replace(cfg, learning="dense")


def _fmt(acc) -> str:
    return " ".join(f"{a:.3f}" for a in acc)
