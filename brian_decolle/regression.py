"""The regression task of the paper (Sec. 4.1, Fig. 1).

Three dense DECOLLE layers are driven by one frozen Poisson spike train
(synthetic input) and each layer's local readout learns its own pseudo-target:
layer 1 a ramp, layer 2 a fast sinusoid, layer 3 a slow sinusoid. The frozen
sample is presented ``epochs`` times back to back in ONE run (one compiled
build on standalone devices), each presentation starting from rest, and then
once more with learning off (lr = 0, no dropout) while the neural states of a
few neurons are recorded, as in the paper's Fig. 1.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cli, devices, progress, results, stopping
from .checks import ConfigError, check_count, check_positive
from .config import NetworkConfig
from .network import build_network

RECORDED_STATES = ("u", "p", "sg", "m", "err")
PRESETS = ("paper",)


@dataclass(frozen=True)
class RegressionTask:
    """The frozen input, the pseudo-targets and how often the sample is shown."""

    input_rate_hz: float = 50.0
    duration_ms: float = 500.0
    epochs: int = 100                      # presentations of the frozen input
    fast_hz: float = 10.0                  # layer 2 target frequency
    slow_hz: float = 2.0                   # layer 3 target frequency
    n_recorded: int = 5                    # neurons per layer whose states are recorded

    def __post_init__(self):
        for name in ("epochs", "n_recorded"):
            check_count(name, getattr(self, name))
        for name in ("input_rate_hz", "duration_ms", "fast_hz", "slow_hz"):
            check_positive(name, getattr(self, name))


@dataclass(frozen=True)
class RegressionStudy:
    """The composed configuration of one regression run."""

    network: NetworkConfig
    task: RegressionTask = RegressionTask()
    preset: str = "paper"

    def __post_init__(self):
        if self.task.input_rate_hz * self.network.dt_ms >= 1000:
            raise ConfigError(f"input_rate_hz={self.task.input_rate_hz!r} must stay below one spike per step "
                              f"({1000 / self.network.dt_ms:g} Hz at dt_ms={self.network.dt_ms!r})")
        if self.network.n_layers != 3:
            raise ConfigError(f"layer_sizes={self.network.layer_sizes!r} must name 3 layers: one per target")
        # the ramp target runs from -1 at the first step to 1 at the last, so a sample needs two steps
        if self.n_steps < 2:
            raise ConfigError(f"duration_ms={self.task.duration_ms!r} is {self.n_steps} time step(s) of dt_ms="
                              f"{self.network.dt_ms!r}; it must be at least 2 steps "
                              f"({1.5 * self.network.dt_ms:g} ms or more)")

    @property
    def n_steps(self) -> int:
        return self.network.steps(self.task.duration_ms)


def preset(name: str = "paper") -> RegressionStudy:
    """Three layers of 512 neurons on 100 inputs. Deviation from the paper: plain SGD (lr 1), as
    the paper's Adamax tracks the target online instead of storing it (see README)."""
    network = NetworkConfig(
        n_inputs=100, layer_sizes=(512, 512, 512), readout_sizes=1, random_tau=True, surrogate="sigmoid",
        readout_input="sigmoid", loss="smooth_l1", optimiser="sgd", lr=1.0, dropout=0.1,
        weight_scale=(30.0, 10.0, 10.0),  # inputs are sparser than hidden spikes
        readout_amplitude=2.0, reg_u=0.01, reg_rate=0.01)
    return RegressionStudy(network=network, preset=name)


def make_task(study: RegressionStudy):
    """Frozen synthetic Poisson input (n_steps, n_inputs) and the three pseudo-targets (n_steps, 1)."""
    task, net = study.task, study.network
    rng = np.random.default_rng(net.seed)
    spikes = (rng.random((study.n_steps, net.n_inputs)) < task.input_rate_hz * net.dt_s).astype(float)
    t = np.arange(study.n_steps) * net.dt_s  # seconds
    ramp = 2 * t / t[-1] - 1
    targets = [ramp, np.sin(2 * np.pi * task.fast_hz * t), np.sin(2 * np.pi * task.slow_hz * t)]
    return spikes, [x[:, None] for x in targets]


def normalised_mse(y, target):
    """Mean squared error over the last axis, divided by the target's variance."""
    return np.mean((y - target) ** 2, axis=-1) / np.var(target)


def run(study: RegressionStudy, out_dir, *, target: devices.Target = devices.Target(), report=None) -> dict:
    """Train, record, and write config.json, summary.json and results.npz into out_dir. report: Brian2's
    progress report of the runs (default: a bar on runtime, percentage lines on standalone devices)."""
    out_dir = Path(out_dir)
    target = target.with_build_dir(out_dir / "build")
    target.select()
    write_config(study, out_dir, target)
    start = time.perf_counter()
    dn = make_network(study)
    record_runs(dn, study, target, report)
    if devices.is_standalone():
        with progress.building("the regression network", target.device):
            devices.build(run=False)
        stopping.check()   # a stop asked for during the compile (the compiled run cannot be stopped cleanly)
        progress.say(f"running {study.task.epochs} training epochs and a test presentation of "
                     f"{study.task.duration_ms:g} ms")
        devices.run_again({})
    return collect(dn, study, out_dir, target, time.perf_counter() - start)


#: what config.json and results.npz say of the input
DATA = "synthetic Poisson input (frozen, generated from the seed)"


def write_config(study: RegressionStudy, out_dir, target: devices.Target) -> dict:
    return results.write_config(out_dir, "regression", study, target=target, data=DATA, synthetic=True)


def recorded_neurons(study: RegressionStudy) -> list[int]:
    net = study.network
    return list(range(min(study.task.n_recorded, min(net.layer_sizes), net.n_inputs)))


def make_network(study: RegressionStudy):
    """The network of a run, built on the current device and not run yet: the frozen input and the
    targets repeated for the training epochs and the presentation with learning off."""
    spikes, targets = make_task(study)
    reps = study.task.epochs + 1
    return build_network(study.network, np.tile(spikes, (reps, 1)), [np.tile(x, (reps, 1)) for x in targets],
                         sample_steps=study.n_steps, record_state=RECORDED_STATES,
                         record_neurons=recorded_neurons(study), record_readout=("y", "yhat", "loss"),
                         record_spikes=True, count_operations=True)


#: the settings of the first (training) run
TRAINING = {"learn": True}


def start_network(study: RegressionStudy):
    """The network as a run of ``study`` starts it: built, with the first run's settings in place, not run
    (what a shared build of the sweep is given, through runargs, to re-run this study)."""
    dn = make_network(study)
    for owner, var, value in dn.parameter_values(**TRAINING):
        setattr(owner, var, value)
    return dn


def record_runs(dn, study: RegressionStudy, target: devices.Target, report=None) -> None:
    """The training epochs, then the presentation with learning off (on standalone devices: recorded,
    to happen when the build runs)."""
    n, epochs = study.n_steps, study.task.epochs
    dn.run(epochs * n, seed=study.network.seed, record={"readout"},
           report=report or progress.simulation_report(target.device, f"training, {epochs} epochs"), **TRAINING)
    dn.run(n, learn=False, record=True,
           report=report or progress.simulation_report(target.device, "presentation with learning off"))


def collect(dn, study: RegressionStudy, out_dir, target: devices.Target, wall: float, **extra) -> dict:
    """results.npz and summary.json of a finished run of ``dn`` (which may be a shared build re-run with
    this study's values); extra: more entries of the summary."""
    net, task = study.network, study.task
    spikes, _ = make_task(study)
    n, reps = study.n_steps, task.epochs + 1
    arrays = {"input_spikes": spikes, "dt_ms": np.array(net.dt_ms),
              "recorded_neurons": np.array(recorded_neurons(study)), "data": np.array(DATA)}
    summary = {"task": "regression with a frozen synthetic Poisson spike train (paper Sec. 4.1)",
               "synthetic_input": True, "device": target.device, "precision": target.precision, "epochs": task.epochs,
               "wall_time_s": round(wall, 1), "forward": net.forward, "learning": net.learning,
               "layers": [], **extra}
    # per presentation of the input: the training epochs, and apart the presentation with learning off
    summary["synaptic_operations"] = {
        phase: results.operations_per_sample(
            {"samples": presentations, "layers": dn.synaptic_operations(presentations * n, learning=learning)})
        for phase, learning, presentations in (("training", True, task.epochs), ("test", False, 1))}
    for k in (1, 2, 3):
        y = dn.readout(k, "y")[:, 0].reshape(reps, n)
        yhat = dn.readout(k, "yhat")[:, 0].reshape(reps, n)
        loss = dn.readout(k, "loss")[:, 0].reshape(reps, n)
        layer_spikes = dn.spikes(k, task.epochs * n, reps * n)
        nmse = normalised_mse(y, yhat)
        arrays.update({f"layer{k}_y": y, f"layer{k}_target": yhat[0], f"layer{k}_loss": loss,
                       f"layer{k}_nmse": nmse, f"layer{k}_spikes": layer_spikes})
        for var in RECORDED_STATES:
            arrays[f"layer{k}_{var}"] = dn.state(k, var)[-n:]
        summary["layers"].append({
            "layer": k, "target": ("ramp", f"sinusoid {task.fast_hz} Hz", f"sinusoid {task.slow_hz} Hz")[k - 1],
            "nmse_first_epoch": float(nmse[0]), "nmse_last_epoch": float(nmse[task.epochs - 1]),
            "nmse_after_training_lr0": float(nmse[-1]),
            "mean_rate_hz": float(layer_spikes.mean() * 1000.0 / net.dt_ms)})
    arrays["input_p"] = dn.state(0, "p")[-n:]
    results.write_arrays(out_dir, "results.npz", **arrays)
    return results.write_summary(out_dir, summary)


STUDY = cli.Study(
    name="regression", presets=PRESETS, preset=preset, run=run, resumable=False,
    options=("task.epochs", "task.input_rate_hz", "task.duration_ms", "task.fast_hz", "task.slow_hz",
             "network.n_inputs", "network.layer_sizes", "network.optimiser",
             "network.forward", "network.learning", "network.error_threshold",
             "network.lr", "network.lr_scale", "network.dropout", "network.weight_scale", "network.reg_u",
             "network.reg_rate", "network.seed") + cli.RULE_OPTIONS,
    description="""Regression with a frozen Poisson spike train (DECOLLE paper, Sec. 4.1, Fig. 1).

Three dense layers of DECOLLE neurons learn, through their local readouts, a
ramp (layer 1), a fast sinusoid (layer 2) and a slow sinusoid (layer 3) from
one frozen synthetic Poisson input shown --epochs times.
Writes config.json, summary.json, results.npz and PNG figures into --out.""")
