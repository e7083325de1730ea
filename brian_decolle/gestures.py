"""The DVS Gesture study (paper Sec. 4.3): presets of the composed configuration, and the run.

The recordings, as frames and windows, come from :mod:`brian_decolle.data.gestures`;
the synthetic stand-in from :mod:`brian_decolle.data.synthetic_gestures`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import cli, devices, progress, results
from .checks import check_choice, check_count
from .classifier import SharedBuild
from .config import ConvLayer, NetworkConfig
from .data.gestures import (N_CLASSES, SPLITS, GestureFrames, GesturePreprocessing, GestureSamples, check_data_dir,
                            is_synthetic)
from .data.synthetic_gestures import write_synthetic_gestures
from .training import ClassificationStudy, Schedule, check_resume, decolle_recipe, train_and_test

#: 'paper': Table 2 of the paper (32x32x2 input; 7x7 conv 64, 2x2 max-pool; 7x7 conv 128;
#: 7x7 conv 128, 2x2 max-pool; padding 2 gives its 30/15/13/11/5 sizes), meant for
#: cuda_standalone. 'cpu': the same three-layer shape with 5, 10 and 10 channels, for a
#: 2-core CPU (its scale and speed are in benchmarks/RESULTS.md).
PRESETS = ("cpu", "paper")
PAPER_ACCURACY = 1 - 0.0582   # the paper's DVS Gesture test error (Table 1)
TAU_REF_MS = 2.86   # the paper's weak refractory kernel: w_rp = 1, tau_r = 2.86 ms


@dataclass(frozen=True)
class GestureData:
    """Where the recordings are and how they become frames."""

    data_dir: str = "data"             # folder holding DVSGesture/ (tonic's layout)
    frames: str = "counts"             # 'counts': events per pixel and frame; 'binary': clipped to 1
    n_test: int | None = None          # test recordings of the final test (None: all)
    validation_users: int = 2          # training users held out to choose settings on (0: test set used)

    def __post_init__(self):  # (frames is checked by GesturePreprocessing)
        if self.n_test is not None:
            check_count("n_test", self.n_test)


@dataclass(frozen=True)
class GestureStudy(ClassificationStudy):
    """The composed configuration of one DVS Gesture run."""

    data: GestureData = GestureData()
    preset: str = "cpu"

    def __post_init__(self):
        super().__post_init__()
        self.preprocessing()

    def preprocessing(self) -> GesturePreprocessing:
        return GesturePreprocessing(frames=self.data.frames, dt_ms=self.network.dt_ms,
                                    train_window_ms=self.schedule.train_ms, test_window_ms=self.schedule.test_ms)


def preset(name: str = "cpu") -> GestureStudy:
    """The paper's network (Table 2) or one of the same shape for a 2-core CPU, with
    decolle-public's DVS Gesture settings (Adamax lr 3.6e-4, readout amplitude 2)."""
    check_choice("network", name, PRESETS)
    channels = (64, 128, 128) if name == "paper" else (5, 10, 10)
    shape = GesturePreprocessing().shape
    network = NetworkConfig(
        n_inputs=math.prod(shape), input_shape=shape, layer_sizes=(), readout_sizes=N_CLASSES,
        conv_layers=tuple(ConvLayer(c, kernel=7, padding=2, pool=p) for c, p in zip(channels, (2, 1, 2))),
        random_tau=True, tau_range_ms=(10.0, 35.0),   # random time constants (paper)
        w_rp=1.0, alpha_r=float(np.exp(-1.0 / TAU_REF_MS)), optimiser="adamax", loss="smooth_l1", lr=3.6e-4,
        dropout=0.5, weight_scale=1.0, readout_amplitude=2.0, burnin_ms=50.0)
    schedule = Schedule(train_ms=500.0, test_ms=1800.0,
                        train_samples=1077,  # one pass over the real training set
                        eval_every=250, eval_samples=44, checkpoint_every=50, n_raster=16)
    return GestureStudy(network=network, schedule=schedule, data=GestureData(), preset=name)


def make_source(study: GestureStudy, download: bool = False) -> tuple[GestureSamples, str, bool]:
    """The study's samples, a description of the data, and whether they are the SYNTHETIC stand-in."""
    data, prep = study.data, study.preprocessing()
    train = GestureFrames(data.data_dir, "train", prep, download=download)
    test = GestureFrames(data.data_dir, "test", prep, download=download)
    synthetic = is_synthetic(data.data_dir)
    described = (f"{'SYNTHETIC stand-in for ' if synthetic else ''}DVS Gesture in {Path(data.data_dir).resolve()}: "
                 f"{len(train)} train / {len(test)} test recordings, {prep.frames} frames")
    return GestureSamples(train, test, data.n_test, data.validation_users), described, synthetic


def run(study: GestureStudy, out_dir, *, target: devices.Target = devices.Target(), resume=False, download=False,
        report=None, shared: SharedBuild | None = None) -> dict:
    """Train and test; write config.json, summary.json, results.npz (+ checkpoint, test sample). shared: a
    sweep's build, compiled once for this network structure (training.train_and_test)."""
    report = report or progress.say
    net = study.network
    source, described, synthetic = make_source(study, download=download)
    if resume:
        check_resume(study.network, study.schedule, out_dir)   # a refused --resume changes nothing
    results.write_config(out_dir, "dvs_gesture", study, target=target, data=described, synthetic=synthetic)
    report(f"DVS Gesture, {study.preset} network, {described}")
    start = time.perf_counter()
    history = train_and_test(net, study.schedule, source, out_dir, target=target, resume=resume, report=report,
                             shared=shared)
    task = ("SYNTHETIC gestures (stand-in for DVS Gesture, paper Sec. 4.3)" if synthetic
            else "DVS Gesture (paper Sec. 4.3)")
    return results.write_classification(history, out_dir, task=task, data=described, synthetic=synthetic,
                                        target=target, wall_time_s=time.perf_counter() - start, n_classes=N_CLASSES,
                                        paper_accuracy=PAPER_ACCURACY)


def _data_arguments(parser):
    parser.add_argument("--download", action="store_true", help="let tonic download the real set into --data-dir")
    parser.add_argument("--synthetic", action="store_true",
                        help="write the SYNTHETIC stand-in into --data-dir if absent, and use it")


def _prepare_data(args, study: GestureStudy) -> dict:
    """Before anything is written or built: the synthetic set made if asked, the data's presence checked."""
    if args.synthetic and not is_synthetic(study.data.data_dir):
        progress.say(f"writing the SYNTHETIC gesture set into {study.data.data_dir}")
        write_synthetic_gestures(study.data.data_dir, seed=study.network.seed)
    if not args.download:
        for split in SPLITS:
            check_data_dir(study.data.data_dir, split)
    return {"download": args.download}


STUDY = cli.Study(
    name="dvs_gesture", presets=PRESETS, preset=preset, run=run,
    preset_help="'cpu': conv 5-10-10 for a 2-core CPU; 'paper': Table 2, conv 64-128-128 (for a GPU)",
    recipes={"decolle": decolle_recipe(lr=3.6e-4)},
    options=("data.data_dir", "data.frames", "data.n_test", "data.validation_users") + cli.TRAINING_OPTIONS,
    add_arguments=_data_arguments, before_run=_prepare_data,
    description="""DVS Gesture (DECOLLE paper, Sec. 4.3, Table 1, Figs. 3-5).

Recordings of the IBM DVS Gesture set are read through tonic from --data-dir,
pooled to 32x32 with two polarity channels and binned into 1 ms frames. A
three-layer convolutional DECOLLE network learns online from random 500 ms
windows (50 ms burn-in); every layer's local readout is tested on the first
1800 ms of the test recordings.

Data: nothing is downloaded unless --download is given (then tonic fetches the
real set into --data-dir). --synthetic writes a clearly labelled synthetic
stand-in in tonic's layout into --data-dir (if it is not there yet) and trains
on it; every output made from it says SYNTHETIC.

Writes config.json, summary.json, results.npz, checkpoint.npz, test_sample.npz
and PNG figures into --out. --resume continues a run from its checkpoint.""")
