"""The DVS Gesture study (paper Sec. 4.3): networks, settings and the training run.

The recordings, as frames and windows, come from :mod:`brian_decolle.data.gestures`;
the synthetic stand-in from :mod:`brian_decolle.data.synthetic_gestures`.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classification import Schedule, progress, train_and_test, write_results
from .config import ConvLayer, NetworkConfig, check_choice, check_count, check_positive
from .data.gestures import N_CLASSES, GestureFrames, GesturePreprocessing, GestureSamples, is_synthetic

#: networks by name. 'paper': Table 2 of the paper (32x32x2 input; 7x7 conv 64, 2x2 max-pool;
#: 7x7 conv 128; 7x7 conv 128, 2x2 max-pool; padding 2 gives its 30/15/13/11/5 sizes), meant
#: for cuda_standalone. 'cpu': the same three-layer shape with 5, 10 and 10 channels, for a
#: 2-core CPU (its scale and speed are in benchmarks/RESULTS.md).
NETWORKS = {
    "paper": (ConvLayer(64, kernel=7, padding=2, pool=2), ConvLayer(128, kernel=7, padding=2, pool=1),
              ConvLayer(128, kernel=7, padding=2, pool=2)),
    "cpu": (ConvLayer(5, kernel=7, padding=2, pool=2), ConvLayer(10, kernel=7, padding=2, pool=1),
            ConvLayer(10, kernel=7, padding=2, pool=2)),
}


@dataclass(frozen=True)
class GestureConfig:
    """The DVS Gesture study: data folder, network choice and training schedule."""

    data_dir: str
    network: str = "cpu"
    frames: str = "counts"
    train_samples: int = 1077          # training sample iterations (1077 = one pass over the real set)
    batch: int = 1
    optimiser: str = "adamax"
    lr: float = 3.6e-4                 # decolle-public's DVS Gesture setting (Adamax)
    dropout: float = 0.5
    weight_scale: float = 1.0
    readout_amplitude: float = 2.0     # decolle-public's lc_ampl for DVS Gesture
    tau_range_ms: tuple[float, float] = (10.0, 35.0)  # random time constants (paper)
    tau_ref_ms: float = 2.86           # weak refractory kernel (paper): w_rp = 1, tau_r = 2.86 ms
    train_ms: float = 500.0
    test_ms: float = 1800.0
    burnin_ms: float = 50.0
    eval_every: int = 250
    eval_samples: int = 44             # test recordings of each intermediate test (all at the end)
    n_test: int | None = None          # test recordings of the final test (None: all)
    checkpoint_every: int = 50
    seed: int = 0

    def __post_init__(self):
        check_choice("network", self.network, tuple(NETWORKS))
        for name in ("train_samples", "batch", "eval_every", "eval_samples", "checkpoint_every"):
            check_count(name, getattr(self, name))
        if self.n_test is not None:
            check_count("n_test", self.n_test)
        for name in ("lr", "weight_scale", "readout_amplitude", "tau_ref_ms"):
            check_positive(name, getattr(self, name))
        self.preprocessing()
        self.schedule()
        self.network_config()

    def preprocessing(self) -> GesturePreprocessing:
        return GesturePreprocessing(frames=self.frames, train_window_ms=self.train_ms, test_window_ms=self.test_ms)

    def network_config(self) -> NetworkConfig:
        shape = self.preprocessing().shape
        return NetworkConfig(
            n_inputs=int(np.prod(shape)), input_shape=shape, conv_layers=NETWORKS[self.network], layer_sizes=(),
            readout_sizes=N_CLASSES, batch=self.batch, random_tau=True, tau_range_ms=self.tau_range_ms,
            w_rp=1.0, alpha_r=float(np.exp(-1.0 / self.tau_ref_ms)), optimiser=self.optimiser,
            loss="smooth_l1",
            lr=self.lr, dropout=self.dropout, weight_scale=self.weight_scale,
            readout_amplitude=self.readout_amplitude, burnin_ms=self.burnin_ms, seed=self.seed)

    def schedule(self) -> "Schedule":
        return Schedule(train_steps=int(round(self.train_ms)), test_steps=int(round(self.test_ms)),
                        burnin_steps=int(round(self.burnin_ms)), train_samples=self.train_samples,
                        eval_every=self.eval_every, eval_samples=self.eval_samples,
                        checkpoint_every=self.checkpoint_every, n_raster=16, seed=self.seed)


def run(cfg: GestureConfig, out_dir, device="cpp_standalone", build_dir=None, codegen_target="cython",
        resume=False, download=False, report=None) -> dict:
    """Train and test; write config.json, summary.json, results.npz (+ checkpoint, test sample)."""
    report = report or progress
    out_dir = Path(out_dir)
    prep = cfg.preprocessing()
    train = GestureFrames(cfg.data_dir, "train", prep, seed=cfg.seed, download=download)
    test = GestureFrames(cfg.data_dir, "test", prep, seed=cfg.seed, download=download)
    synthetic = is_synthetic(cfg.data_dir)
    data = (f"{'SYNTHETIC stand-in for ' if synthetic else ''}DVS Gesture in {Path(cfg.data_dir).resolve()}: "
            f"{len(train)} train / {len(test)} test recordings, {prep.frames} frames")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(
        {"gestures": dataclasses.asdict(cfg), "network": cfg.network_config().to_dict(), "device": device,
         "data": data, "synthetic_data": synthetic}, indent=2))
    report(f"DVS Gesture, {cfg.network} network, {data}")
    start = time.perf_counter()
    history = train_and_test(cfg.network_config(), cfg.schedule(), GestureSamples(train, test, cfg.n_test), out_dir,
                             device=device, build_dir=build_dir, codegen_target=codegen_target, resume=resume,
                             report=report)
    name = "SYNTHETIC gestures (stand-in for DVS Gesture, paper Sec. 4.3)" if synthetic else \
        "DVS Gesture (paper Sec. 4.3)"
    return write_results(history, out_dir, task=name, data=data, synthetic=synthetic, device=device,
                         wall_time_s=time.perf_counter() - start)
