"""Classification of any event dataset: a folder of the user's own recordings, or a tonic dataset.

The data (layout in :mod:`brian_decolle.data.events`) fix the input shape and the number of
classes; the network preset is adapted to them when the study runs, and config.json records the
adapted network, so a re-run with ``--config`` builds the same one.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

from . import cli, devices, progress, results
from .checks import ConfigError, check_choice, check_count, check_index
from .classifier import SharedBuild
from .config import ConvLayer, NetworkConfig
from .data.events import FolderFrames, sensor_of
from .data.gestures import GesturePreprocessing, GestureSamples
from .training import ClassificationStudy, Schedule, check_resume, decolle_recipe, train_and_test

#: 'dense': two dense layers of 128, for any sensor; 'conv': three conv layers of 5, 10, 10
#: channels (7x7, pools 2, 1, 2; as the DVS Gesture cpu preset) for frames of at least 32x32
PRESETS = ("dense", "conv")


@dataclass(frozen=True)
class EventData:
    """Where the recordings are and how they become frames."""

    data_dir: str = "events"            # folder of recordings (data.events layout) or tonic's save_to
    tonic_dataset: str | None = None    # a tonic.datasets class name (e.g. NMNIST); None: a folder
    frames: str = "counts"              # 'counts': events per pixel and frame; 'binary': clipped to 1
    downsample: int = 1                 # pool x and y by this factor (divides the sensor's width, height)
    n_test: int | None = None           # test recordings of the final test (None: all)
    # training recordings held out to choose settings on (0: the test set is used; None: a tenth of them,
    # at least one, so that intermediate evaluations never look at the test set unless asked to)
    n_validation: int | None = None

    def __post_init__(self):
        check_count("downsample", self.downsample)
        if self.n_test is not None:
            check_count("n_test", self.n_test)
        if self.n_validation is not None:
            check_index("n_validation", self.n_validation)

    def validation_recordings(self, n_train: int) -> int:
        """How many of n_train training recordings are held out for validation."""
        return max(1, n_train // 10) if self.n_validation is None else self.n_validation


@dataclass(frozen=True)
class EventStudy(ClassificationStudy):
    """The composed configuration of one run on an event dataset."""

    data: EventData = EventData()
    preset: str = "dense"

    def preprocessing(self, sensor=None) -> GesturePreprocessing:
        kwargs = {} if sensor is None else {"sensor": tuple(sensor)}
        return GesturePreprocessing(frames=self.data.frames, downsample=self.data.downsample,
                                    dt_ms=self.network.dt_ms, train_window_ms=self.schedule.train_ms,
                                    test_window_ms=self.schedule.test_ms, **kwargs)


def preset(name: str = "dense") -> EventStudy:
    """A network for any event data (its input shape and classes are set from the data when it runs)."""
    check_choice("network", name, PRESETS)
    shape, n_classes = (2, 32, 32), 2   # placeholders until the data are read
    convs = () if name == "dense" else tuple(ConvLayer(c, kernel=7, padding=2, pool=p)
                                              for c, p in zip((5, 10, 10), (2, 1, 2)))
    network = NetworkConfig(
        n_inputs=math.prod(shape), input_shape=shape, conv_layers=convs,
        layer_sizes=(128, 128) if name == "dense" else (), readout_sizes=n_classes,
        optimiser="adamax", loss="smooth_l1", lr=1e-3, dropout=0.5, weight_scale=1.0, readout_amplitude=2.0,
        burnin_ms=50.0)
    schedule = Schedule(train_ms=300.0, test_ms=300.0, train_samples=1000, eval_every=250, eval_samples=50,
                        checkpoint_every=50, n_raster=16)
    return EventStudy(network=network, schedule=schedule, data=EventData(), preset=name)


def adapted(study: EventStudy, sensor, n_classes: int) -> EventStudy:
    """The study with the network's input shape and readouts set from the data."""
    shape = study.preprocessing(sensor).shape
    try:
        network = dataclasses.replace(study.network, n_inputs=math.prod(shape), input_shape=shape,
                                      readout_sizes=n_classes)
    except ConfigError as err:
        raise ConfigError(f"the {study.preset!r} network does not fit frames of shape {shape}: {err}") from err
    return dataclasses.replace(study, network=network)


def make_source(study: EventStudy, download: bool = False) -> tuple[GestureSamples, str, bool]:
    """The study's samples (the study must be adapted to the data), a description, and whether
    the data are synthetic (the folder's name says so: it holds 'synthetic')."""
    data = study.data
    prep = study.preprocessing(sensor_of(data.data_dir, data.tonic_dataset))
    kwargs = dict(tonic_name=data.tonic_dataset, download=download)
    train = FolderFrames(data.data_dir, "train", prep, **kwargs)
    test = FolderFrames(data.data_dir, "test", prep, **kwargs)
    if test.n_classes != train.n_classes:
        raise ConfigError(f"data_dir={data.data_dir!r}: the test split has {test.n_classes} classes, the "
                          f"training split {train.n_classes}")
    synthetic = "synthetic" in Path(data.data_dir).name.lower()
    name = data.tonic_dataset or "event recordings"
    described = (f"{'SYNTHETIC ' if synthetic else ''}{name} in {Path(data.data_dir).resolve()}: {len(train)} train / "
                 f"{len(test)} test recordings, {train.n_classes} classes, frames {prep.shape}, {prep.frames}")
    source = GestureSamples(train, test, data.n_test, data.validation_recordings(len(train)), name="n_validation")
    return source, described, synthetic


def run(study: EventStudy, out_dir, *, target: devices.Target = devices.Target(), resume=False, download=False,
        report=None, shared: SharedBuild | None = None) -> dict:
    """Train and test; write config.json, summary.json, results.npz (+ checkpoint, test sample). shared: a
    sweep's build, compiled once for this network structure (training.train_and_test)."""
    report = report or progress.say
    data = study.data
    # (the frames depend on the data and dt only, not on the network they are adapted to)
    source, described, synthetic = make_source(study, download=download)
    study = adapted(study, sensor_of(data.data_dir, data.tonic_dataset), source.n_classes)
    if resume:
        check_resume(study.network, study.schedule, out_dir)   # a refused --resume changes nothing
    results.write_config(out_dir, "events", study, target=target, data=described, synthetic=synthetic)
    report(f"events, {study.preset} network, {described}")
    start = time.perf_counter()
    history = train_and_test(study.network, study.schedule, source, out_dir, target=target, resume=resume,
                             report=report, shared=shared)
    return results.write_classification(history, out_dir, task=f"event classification ({described})",
                                        data=described, synthetic=synthetic, target=target,
                                        wall_time_s=time.perf_counter() - start, n_classes=source.n_classes,
                                        paper_accuracy=None)


def _data_arguments(parser):
    parser.add_argument("--download", action="store_true",
                        help="let tonic download --tonic-dataset into --data-dir")


def _check_data(args, study: EventStudy) -> dict:
    """Before anything is written or built: the folder's dataset.json (or the tonic class) is read."""
    if not (args.download and study.data.tonic_dataset):
        sensor_of(study.data.data_dir, study.data.tonic_dataset)
    return {"download": args.download}


STUDY = cli.Study(
    name="events", presets=PRESETS, preset=preset, run=run,
    preset_help="'dense': two dense layers of 128 (any sensor); 'conv': conv 5-10-10, 7x7, pools 2,1,2 (32x32 or more)",
    recipes={"decolle": decolle_recipe(lr=1e-3)},
    options=("data.data_dir", "data.tonic_dataset", "data.frames", "data.downsample", "data.n_test",
             "data.n_validation", "network.layer_sizes") + cli.TRAINING_OPTIONS,
    add_arguments=_data_arguments,
    before_run=_check_data,
    description="""Any event dataset: a folder of your own recordings, or a tonic dataset class.

A folder (--data-dir) holds dataset.json {"sensor_size": [width, height,
polarities], "classes": [names]} and train/<class>/*.npy, test/<class>/*.npy,
one recording per file: fields or columns x, y, p, t (t in microseconds, in
time order). --tonic-dataset NAME reads tonic.datasets.NAME from --data-dir
instead (nothing is downloaded unless --download). The recordings are pooled
by --downsample, binned into frames of dt, cached, and learned online as in the
DVS Gesture study: random --train-ms windows, the first --test-ms of each test
recording, a local readout per layer, accuracy per layer on the test set.

Writes config.json, summary.json, results.npz, checkpoint.npz, test_sample.npz
and PNG figures into --out. --resume continues a run from its checkpoint.""")
