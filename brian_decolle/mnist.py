"""The Poisson-MNIST study (paper Sec. 4.2): networks, settings and the training run.

The digits and their spike trains come from :mod:`brian_decolle.data.mnist`.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .classification import Schedule, progress, train_and_test, write_results
from .config import ConfigError, ConvLayer, NetworkConfig, check_count, check_positive
from .data.mnist import (IMAGE_SHAPE, MAX_RATE_HZ, N_CLASSES, PRESENTATION_MS, TEST_PRESENTATION_MS, PoissonDigits,
                         check_mnist_dir, load_split)

#: networks by name: conv layers, and whether a non-spiking dense output layer follows.
#: 'paper': three conv layers of 16, 24 and 32 channels, 7x7 kernels, max-pool 2, 1, 2
#: (decolle-public's order) on 28x28 digits, and the paper's additional fully connected layer
#: without spiking dynamics; 'small': two conv layers that train on a 2-core CPU.
NETWORKS = {
    "paper": ((ConvLayer(16, kernel=7, padding=3, pool=2), ConvLayer(24, kernel=7, padding=3, pool=1),
               ConvLayer(32, kernel=7, padding=3, pool=2)), True),
    "small": ((ConvLayer(8, kernel=5, padding=2, pool=2), ConvLayer(12, kernel=5, padding=2, pool=2)), False),
}


@dataclass(frozen=True)
class MnistConfig:
    """The Poisson-MNIST study: data, network choice and training schedule (Adamax, smooth L1)."""

    network: str = "paper"
    n_train: int = 4000
    n_test: int = 1000
    train_samples: int = 4000          # training sample iterations (4000 = one pass over the train set)
    batch: int = 1                     # replicas sharing the weights (the paper: minibatches of 64)
    optimiser: str = "adamax"
    lr: float = 1e-3
    dropout: float = 0.5
    weight_scale: float = 8.0          # w ~ U(+-scale/sqrt(fan_in)): Poisson inputs of <= 50 Hz are sparse
    readout_amplitude: float = 0.5     # decolle-public's lc_ampl for N-MNIST
    train_ms: float = PRESENTATION_MS
    test_ms: float = TEST_PRESENTATION_MS
    burnin_ms: float = 50.0
    max_rate_hz: float = MAX_RATE_HZ
    eval_every: int = 1000
    eval_samples: int = 200            # test digits of each intermediate evaluation (all at the end)
    checkpoint_every: int = 100
    mnist_dir: str | None = None
    seed: int = 0

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ConfigError(f"network={self.network!r} is not allowed; choose one of "
                              f"{', '.join(map(repr, NETWORKS))}")
        for name in ("n_train", "n_test", "train_samples", "batch", "eval_every", "eval_samples",
                     "checkpoint_every"):
            check_count(name, getattr(self, name))
        for name in ("train_ms", "test_ms", "max_rate_hz", "lr", "weight_scale", "readout_amplitude"):
            check_positive(name, getattr(self, name))
        if self.mnist_dir is not None:
            check_mnist_dir(self.mnist_dir)
        self.schedule()
        self.network_config()

    def network_config(self) -> NetworkConfig:
        return NetworkConfig(
            n_inputs=IMAGE_SHAPE[0] * IMAGE_SHAPE[1], input_shape=(1, *IMAGE_SHAPE),
            conv_layers=NETWORKS[self.network][0], layer_sizes=(N_CLASSES,) if NETWORKS[self.network][1] else (),
            output_layer=NETWORKS[self.network][1], readout_sizes=N_CLASSES, batch=self.batch,
            optimiser=self.optimiser, loss="smooth_l1",
            lr=self.lr, dropout=self.dropout, weight_scale=self.weight_scale,
            readout_amplitude=self.readout_amplitude, burnin_ms=self.burnin_ms, seed=self.seed)

    def schedule(self) -> Schedule:
        return Schedule(train_steps=int(round(self.train_ms)), test_steps=int(round(self.test_ms)),
                        burnin_steps=int(round(self.burnin_ms)), train_samples=self.train_samples,
                        eval_every=self.eval_every, eval_samples=min(self.eval_samples, self.n_test),
                        checkpoint_every=self.checkpoint_every, seed=self.seed)


def run(cfg: MnistConfig, out_dir, device="cpp_standalone", build_dir=None, codegen_target="cython",
        resume=False, report=None) -> dict:
    """Train and test; write config.json, summary.json, results.npz (+ checkpoint, test sample)."""
    report = report or progress
    out_dir = Path(out_dir)
    split = load_split(cfg.mnist_dir, cfg.n_train, cfg.n_test, seed=cfg.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(
        {"mnist": asdict(cfg), "network": cfg.network_config().to_dict(), "device": device,
         "data": split.source}, indent=2, default=str))
    report(f"Poisson MNIST, {cfg.network} network, {split.source}")
    start = time.perf_counter()
    history = train_and_test(cfg.network_config(), cfg.schedule(), PoissonDigits(split, cfg.max_rate_hz, cfg.seed),
                             out_dir, device=device, build_dir=build_dir, codegen_target=codegen_target,
                             resume=resume, report=report)
    return write_results(history, out_dir, task="Poisson MNIST (paper Sec. 4.2)", data=split.source,
                         synthetic=False, device=device, wall_time_s=time.perf_counter() - start)
