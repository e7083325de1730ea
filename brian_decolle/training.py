"""Online classification with DECOLLE: labelled spike trains in, accuracy per layer out.

Shared by the Poisson-MNIST and DVS Gesture studies. Every layer's local
readout learns the one-hot class label as its pseudo-target at every step after
the burn-in; a sample's class, per layer, is the majority vote of the per-step
argmax of the readout after the burn-in (decolle-public's test).

One network is built for one test presentation and B replicas (a minibatch
sharing every weight). On standalone devices it is compiled ONCE and then run
again and again with new inputs, targets, sample boundaries and weights
(``DecolleNetwork.run_again``): a training run packs several training windows
back to back per replica (each starting from rest, with its own burn-in), a
test run presents one test sequence per replica with learning and dropout off.

Everything that defines a run -- the order of training samples, their random
windows or Poisson draws, the dropout seed of every run -- follows from the
network seed and the sample's position, so a resumed run continues exactly
where the checkpoint was written.
"""
from __future__ import annotations

import dataclasses
import functools
import gc
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Protocol

import brian2 as b2
import numpy as np

from . import devices
from .config import ConfigError, NetworkConfig, check_count, check_positive
from .network import build_network

CHECKPOINT = "checkpoint.npz"


def progress(line: str) -> None:
    """Default report: print at once, also when the output goes to a file (long runs)."""
    print(line, flush=True)


class SampleSource(Protocol):
    """Labelled spike trains: (n_steps, n_inputs) event counts and a class."""

    n_classes: int
    n_train: int
    n_test: int

    def train_sample(self, index: int, n_steps: int, seed: int) -> tuple[np.ndarray, int]: ...

    def test_sample(self, index: int, n_steps: int) -> tuple[np.ndarray, int]: ...


class Steps(NamedTuple):
    train: int    # one training sample
    test: int     # one test presentation (the build's run length)
    burnin: int   # no learning and no vote during a sample's first steps


@dataclass(frozen=True)
class Schedule:
    """How long samples last, how long training lasts, and when it is tested and saved
    (counted in training samples). Time step, burn-in and seed are the network's."""

    train_ms: float = 500.0     # one training sample
    test_ms: float = 1000.0     # one test presentation
    train_samples: int = 4000   # training sample iterations in all
    eval_every: int = 1000      # test after this many training samples ...
    eval_samples: int = 200     # ... on this many test samples (the final test uses them all)
    checkpoint_every: int = 100  # save the learned state after this many training samples
    n_raster: int = 32          # layer-1 units whose spikes the recorded test sample keeps

    def __post_init__(self):
        for name in ("train_samples", "eval_every", "eval_samples", "checkpoint_every", "n_raster"):
            check_count(name, getattr(self, name))
        for name in ("train_ms", "test_ms"):
            check_positive(name, getattr(self, name))

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


def votes(y: np.ndarray, burnin: int) -> np.ndarray:
    """Class per sample: majority over the steps after burn-in of the readout's argmax.
    y: (steps, samples, classes) -> (samples,)."""
    winners = np.argmax(y[burnin:], axis=-1)
    n_classes = y.shape[-1]
    counts = np.stack([(winners == c).sum(axis=0) for c in range(n_classes)], axis=-1)
    return np.argmax(counts, axis=-1)


class OnlineClassifier:
    """One DECOLLE network, built once, run on chunk after chunk of labelled samples."""

    def __init__(self, cfg: NetworkConfig, n_classes: int, run_steps: int, *, device: str = "cpp_standalone",
                 build_dir=None, codegen_target: str = "cython", n_raster: int = 32, n_membrane: int = 5):
        for spec in cfg.layers:
            if spec.readout_size != n_classes:
                raise ConfigError(f"readout_sizes[{spec.index - 1}]={spec.readout_size} must equal the number "
                                  f"of classes ({n_classes})")
        self.cfg, self.n_classes, self.run_steps = cfg, n_classes, run_steps
        self.device, self.codegen_target = device, codegen_target
        # recorded layer-1 units: consecutive units from the middle row of the first channel,
        # where an image's centre drives them (corner units of a digit never see a spike)
        first = cfg.layers[0]
        _, h, w = first.output_shape
        self.first_recorded = (h // 2) * w + max(0, w // 2 - n_raster // 2) if h * w > n_raster else 0
        self.n_raster = min(n_raster, first.n_outputs - self.first_recorded)
        self.n_membrane = min(n_membrane, self.n_raster)
        devices.select(device, build_dir=build_dir, codegen_target=codegen_target)
        self._build(*self._blank(run_steps))
        if device != "runtime":
            self.dn.run(seed=cfg.seed)
            devices.build(run=False)

    def _blank(self, n_steps):
        cfg = self.cfg
        return (np.zeros((n_steps, cfg.batch * cfg.n_inputs)),
                [np.zeros((n_steps, cfg.batch * self.n_classes))] * cfg.n_layers, np.zeros(n_steps))

    def _build(self, spikes, targets, starts):
        self.dn = None
        gc.collect()  # the previous chunk's objects hold the names this build reuses
        dn = build_network(self.cfg, spikes, targets, sample_starts=starts, record_readout=("y",), name="decolle")
        out = dn.layers[0].output
        # (the whole group: Brian2 cannot take subgroups of a group with linked variables)
        self.raster = b2.SpikeMonitor(out, name="decolle_raster")
        first = self.first_recorded + (self.n_raster - self.n_membrane) // 2
        self.membrane = b2.StateMonitor(out, "u", record=list(range(first, first + self.n_membrane)), when="end",
                                        order=6, clock=dn.inputs.clock, name="decolle_membrane")
        dn.network.add(self.raster, self.membrane)
        self.dn = dn

    def initial_state(self) -> dict[str, np.ndarray]:
        return self.dn.learned_state(initial=True)

    def run(self, spikes, labels, starts, state, *, learn: bool, seed: int):
        """One run: spikes (run_steps, B*n_inputs); labels (run_steps, B) the class per step
        (-1: no target); starts (run_steps,) 1 where a sample begins. Returns the readouts
        (layers, run_steps, B, classes), the learned state afterwards, and the recordings."""
        cfg = self.cfg
        targets = np.zeros((self.run_steps, cfg.batch, self.n_classes))
        rows, cols = np.nonzero(labels >= 0)
        targets[rows, cols, labels[rows, cols]] = 1.0
        targets = [targets.reshape(self.run_steps, -1)] * cfg.n_layers
        if self.device == "runtime":
            # Brian2's runtime cannot restart a network at t = 0: a new one, with the same settings
            devices.select("runtime", codegen_target=self.codegen_target)
            self._build(spikes, targets, starts)
            self.dn.run(learn=learn, state=state, seed=seed)
        else:
            self.dn.run_again(seed=seed, learn=learn, state=state, spikes=spikes, targets=targets,
                              sample_starts=starts)
        dn = self.dn
        y = np.stack([dn.readout(k, "y").reshape(self.run_steps, cfg.batch, self.n_classes)
                      for k in range(1, cfg.n_layers + 1)])
        spikes_rec = np.zeros((self.run_steps, self.n_raster))
        steps = np.round(np.asarray(self.raster.t / b2.ms) / cfg.dt_ms).astype(int)
        units = np.asarray(self.raster.i) - self.first_recorded
        keep = (units >= 0) & (units < self.n_raster)
        spikes_rec[steps[keep], units[keep]] = 1.0
        return y, dn.learned_state(), {"layer1_spikes": spikes_rec, "layer1_u": np.asarray(self.membrane.u).T}


def _state_matches(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)


def train_and_test(cfg: NetworkConfig, schedule: Schedule, source: SampleSource, out_dir, *,
                   device: str = "cpp_standalone", build_dir=None, codegen_target: str = "cython",
                   resume: bool = False, report: Callable[[str], None] | None = None) -> dict:
    """Train online on the source's training samples and test per layer; write checkpoint.npz,
    test_sample.npz and learned.npz into out_dir; return the history (a dict).

    With resume=True a checkpoint in out_dir is continued (same settings required).
    """
    report = report or progress
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    B, seed = cfg.batch, cfg.seed
    steps = schedule.steps(cfg)
    windows = schedule.windows(cfg)
    per_run = B * len(windows)
    n_runs = math.ceil(schedule.train_samples / per_run)
    clf = OnlineClassifier(cfg, source.n_classes, steps.test, device=device,
                           build_dir=build_dir or out_dir / "build", codegen_target=codegen_target,
                           n_raster=schedule.n_raster)
    settings = {"network": cfg.to_dict(), "schedule": dataclasses.asdict(schedule)}
    state = clf.initial_state()
    history = {"settings": settings, "samples_done": 0, "runs_done": 0, "train": [], "evaluations": [],
               "train_time_s": 0.0, "test_time_s": 0.0}
    checkpoint = out_dir / CHECKPOINT
    if resume and checkpoint.exists():
        saved = np.load(checkpoint, allow_pickle=False)
        old = json.loads(str(saved["history"]))
        if old["settings"] != json.loads(json.dumps(settings)):
            raise ConfigError(f"resume: the checkpoint in {out_dir} was written with other settings; "
                              "use the same options or another --out folder")
        loaded = {k: saved[k] for k in saved.files if k != "history"}
        if not _state_matches(loaded, state):
            raise ConfigError(f"resume: the checkpoint in {out_dir} does not fit this network")
        state, history = loaded, old
        report(f"resuming after {history['samples_done']} training samples")

    def save():
        tmp = out_dir / (CHECKPOINT + ".tmp.npz")
        np.savez(tmp, history=np.array(json.dumps(history)), **state)
        tmp.replace(checkpoint)

    def evaluate(n_samples, keep_recording):
        start = time.perf_counter()
        correct = np.zeros(cfg.n_layers)
        recording = None
        for first in range(0, n_samples, B):
            chunk = range(first, min(first + B, n_samples))
            spikes = np.zeros((steps.test, B, cfg.n_inputs))
            truth = np.full(B, -1)
            for b, index in enumerate(chunk):
                spikes[:, b], truth[b] = source.test_sample(index, steps.test)
            starts = np.zeros(steps.test)
            starts[0] = 1
            y, _, rec = clf.run(spikes.reshape(steps.test, -1), np.full((steps.test, B), -1), starts, state,
                                learn=False, seed=seed)
            for k in range(cfg.n_layers):
                guess = votes(y[k], steps.burnin)
                correct[k] += np.sum(guess[:len(chunk)] == truth[:len(chunk)])
            if keep_recording and recording is None:
                recording = {"input": spikes[:, 0], "label": np.array(truth[0]), "readout_y": y[:, :, 0], **rec}
        history["test_time_s"] += time.perf_counter() - start
        return correct / n_samples, recording

    def record_evaluation(n_samples, final=False):
        acc, recording = evaluate(n_samples, final)
        entry = {"samples": history["samples_done"], "n_test": n_samples, "accuracy": acc.tolist()}
        history["evaluations"].append({**entry, "final": True} if final else entry)
        return acc, recording

    if history["evaluations"] and history["evaluations"][-1].get("final"):
        report("this run is complete: nothing to resume")
        return history
    total = min(schedule.train_samples, n_runs * per_run)
    n_eval = min(schedule.eval_samples, source.n_test)
    next_eval = (history["samples_done"] // schedule.eval_every + 1) * schedule.eval_every
    next_save = (history["samples_done"] // schedule.checkpoint_every + 1) * schedule.checkpoint_every
    if not history["evaluations"]:
        acc, _ = record_evaluation(n_eval)
        report(f"before training: test accuracy per layer {_fmt(acc)}")

    @functools.lru_cache(maxsize=2)
    def epoch_order(epoch):
        """The order of the training samples in one pass over them (a function of seed and epoch)."""
        return np.random.default_rng([seed, epoch]).permutation(source.n_train)

    while history["runs_done"] < n_runs:
        run_index = history["runs_done"]
        start = time.perf_counter()
        spikes = np.zeros((steps.test, B, cfg.n_inputs))
        labels = np.full((steps.test, B), -1)
        starts = np.zeros(steps.test)
        truth = []
        for w, (offset, length) in enumerate(windows):
            starts[offset] = 1
            for b in range(B):
                k = run_index * per_run + w * B + b  # global training sample number
                epoch, position = divmod(k, source.n_train)
                index = int(epoch_order(epoch)[position])
                x, label = source.train_sample(index, length, seed=seed * 1_000_003 + k)
                spikes[offset:offset + length, b] = x
                labels[offset:offset + length, b] = label
                truth.append((w, b, label))
        y, state, _ = clf.run(spikes.reshape(steps.test, -1), labels, starts, state, learn=True,
                              seed=seed * 7919 + 1 + run_index)
        right = np.zeros(cfg.n_layers)
        for w, b, label in truth:
            offset, length = windows[w]
            for k in range(cfg.n_layers):
                right[k] += votes(y[k, offset:offset + length, b:b + 1], steps.burnin)[0] == label
        elapsed = time.perf_counter() - start
        history["train_time_s"] += elapsed
        history["runs_done"] += 1
        history["samples_done"] = done = min(total, history["runs_done"] * per_run)
        history["train"].append({"samples": done, "accuracy": (right / len(truth)).tolist()})
        rate = history["train_time_s"] / done
        # a readout fit online to the same label: a training figure, never "accuracy"
        report(f"trained {done}/{total} samples  train (readout fit online) {_fmt(right / len(truth))}  "
               f"{elapsed / len(truth):.2f} s/sample  eta {(total - done) * rate / 60:.1f} min")
        if next_eval <= done < total:
            acc, _ = record_evaluation(n_eval)
            report(f"after {done} samples: test accuracy per layer {_fmt(acc)}")
            next_eval = (done // schedule.eval_every + 1) * schedule.eval_every
        if done >= next_save or done >= total:
            save()
            next_save = (done // schedule.checkpoint_every + 1) * schedule.checkpoint_every
    acc, recording = record_evaluation(source.n_test, final=True)
    report(f"final test ({source.n_test} samples): accuracy per layer {_fmt(acc)}")
    save()
    np.savez_compressed(out_dir / "test_sample.npz", **recording)
    np.savez_compressed(out_dir / "learned.npz", **state)
    return history


def _fmt(acc) -> str:
    return " ".join(f"{a:.3f}" for a in acc)
