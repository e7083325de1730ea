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

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import devices
from .config import ConfigError, NetworkConfig, check_count, check_positive
from .network import build_network

RECORDED_STATES = ("u", "p", "sg", "m", "err")


@dataclass(frozen=True)
class RegressionConfig:
    """Task and training settings; the network's remaining settings come from NetworkConfig defaults."""

    n_inputs: int = 100
    input_rate_hz: float = 50.0
    n_neurons: int = 512
    duration_ms: float = 500.0
    epochs: int = 100
    fast_hz: float = 10.0                  # layer 2 target frequency
    slow_hz: float = 2.0                   # layer 3 target frequency
    optimiser: str = "sgd"                 # the paper's Adamax tracks the target instead (see README)
    lr: float = 1.0
    dropout: float = 0.1
    weight_scale: tuple[float, float, float] = (30.0, 10.0, 10.0)  # inputs are sparser than hidden spikes
    readout_amplitude: float = 2.0
    reg_u: float = 0.01
    reg_rate: float = 0.01
    n_recorded: int = 5                    # neurons per layer whose states are recorded
    seed: int = 0

    def __post_init__(self):
        for name in ("n_inputs", "n_neurons", "epochs", "n_recorded"):
            check_count(name, getattr(self, name))
        for name in ("input_rate_hz", "duration_ms", "fast_hz", "slow_hz"):
            check_positive(name, getattr(self, name))
        if self.input_rate_hz >= 1000:
            raise ConfigError(f"input_rate_hz={self.input_rate_hz!r} must stay below 1000 Hz (one spike per 1 ms step)")
        self.network_config()  # validates the network settings too

    @property
    def n_steps(self) -> int:
        return int(round(self.duration_ms))  # dt = 1 ms

    def network_config(self) -> NetworkConfig:
        return NetworkConfig(
            n_inputs=self.n_inputs, layer_sizes=(self.n_neurons,) * 3, readout_sizes=1, random_tau=True,
            surrogate="sigmoid", readout_input="sigmoid", loss="smooth_l1", optimiser=self.optimiser, lr=self.lr,
            dropout=self.dropout, weight_scale=self.weight_scale, readout_amplitude=self.readout_amplitude,
            reg_u=self.reg_u, reg_rate=self.reg_rate, seed=self.seed)


def make_task(cfg: RegressionConfig):
    """Frozen synthetic Poisson input (n_steps, n_inputs) and the three pseudo-targets (n_steps, 1)."""
    rng = np.random.default_rng(cfg.seed)
    spikes = (rng.random((cfg.n_steps, cfg.n_inputs)) < cfg.input_rate_hz * 1e-3).astype(float)
    t = np.arange(cfg.n_steps) * 1e-3  # seconds
    ramp = 2 * t / t[-1] - 1
    targets = [ramp, np.sin(2 * np.pi * cfg.fast_hz * t), np.sin(2 * np.pi * cfg.slow_hz * t)]
    return spikes, [x[:, None] for x in targets]


def normalised_mse(y, target):
    """Mean squared error over the last axis, divided by the target's variance."""
    return np.mean((y - target) ** 2, axis=-1) / np.var(target)


def run(cfg: RegressionConfig, out_dir, device="cpp_standalone", build_dir=None, codegen_target="cython",
        report="text") -> dict:
    """Train, record, and write config.json, summary.json and results.npz into out_dir."""
    out_dir = Path(out_dir)
    devices.select(device, build_dir=build_dir or out_dir / "build", codegen_target=codegen_target)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(
        {"regression": dataclasses.asdict(cfg), "network": cfg.network_config().to_dict(), "device": device},
        indent=2))
    spikes, targets = make_task(cfg)
    n, reps = cfg.n_steps, cfg.epochs + 1
    recorded = list(range(min(cfg.n_recorded, cfg.n_neurons, cfg.n_inputs)))
    start = time.perf_counter()
    dn = build_network(cfg.network_config(), np.tile(spikes, (reps, 1)), [np.tile(x, (reps, 1)) for x in targets],
                       sample_steps=n, record_state=RECORDED_STATES, record_neurons=recorded,
                       record_readout=("y", "yhat", "loss"), record_spikes=True)
    dn.run(cfg.epochs * n, learn=True, record={"readout"}, report=report)
    dn.run(n, learn=False, record=True, report=report)
    devices.build()
    wall = time.perf_counter() - start

    arrays = {"input_spikes": spikes, "dt_ms": np.array(1.0), "recorded_neurons": np.array(recorded),
              "data": np.array("synthetic Poisson input (frozen, generated from the seed)")}
    summary = {"task": "regression with a frozen synthetic Poisson spike train (paper Sec. 4.1)",
               "synthetic_input": True, "device": device, "epochs": cfg.epochs, "wall_time_s": round(wall, 1),
               "layers": []}
    for k in (1, 2, 3):
        y = dn.readout(k, "y")[:, 0].reshape(reps, n)
        target = dn.readout(k, "yhat")[:, 0].reshape(reps, n)
        loss = dn.readout(k, "loss")[:, 0].reshape(reps, n)
        layer_spikes = dn.spikes(k, cfg.epochs * n, reps * n)
        nmse = normalised_mse(y, target)
        arrays.update({f"layer{k}_y": y, f"layer{k}_target": target[0], f"layer{k}_loss": loss,
                       f"layer{k}_nmse": nmse, f"layer{k}_spikes": layer_spikes})
        for var in RECORDED_STATES:
            arrays[f"layer{k}_{var}"] = dn.state(k, var)[-n:]
        summary["layers"].append({
            "layer": k, "target": ("ramp", f"sinusoid {cfg.fast_hz} Hz", f"sinusoid {cfg.slow_hz} Hz")[k - 1],
            "nmse_first_epoch": float(nmse[0]), "nmse_last_epoch": float(nmse[cfg.epochs - 1]),
            "nmse_after_training_lr0": float(nmse[-1]),
            "mean_rate_hz": float(layer_spikes.mean() * 1000.0)})
    arrays["input_p"] = dn.state(0, "p")[-n:]
    np.savez_compressed(out_dir / "results.npz", **arrays)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
