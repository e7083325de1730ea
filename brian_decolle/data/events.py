"""Any event-camera dataset as frames: a folder of the user's own recordings, or a tonic dataset.

A folder of one's own recordings has this layout (``LAYOUT``)::

    ROOT/dataset.json            {"sensor_size": [width, height, polarities], "classes": ["a", "b", ...]}
    ROOT/train/<class>/<name>.npy
    ROOT/test/<class>/<name>.npy

where <class> is one of "classes" (its position is the label) and each .npy file is one recording:
a structured array with fields x, y, p, t (tonic's event format) or an (N, 4) array of columns
x, y, p, t, with t in microseconds, in time order, and 0 <= x < width, 0 <= y < height,
0 <= p < polarities. Any tonic dataset class (``tonic.datasets.<name>``, e.g. NMNIST, POKERDVS)
works as well; it is read from ``data_dir`` and downloaded only when asked.

Both are pooled and binned by tonic's transforms and cached as sparse frames, as DVS Gesture is
(:class:`~brian_decolle.data.gestures.EventFrames`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import ConfigError, check_choice
from .gestures import SPLITS, EventFrames, GesturePreprocessing, frame_transform, import_tonic, read_recording

LAYOUT = ("ROOT/dataset.json  {\"sensor_size\": [width, height, polarities], \"classes\": [names]}; "
          "ROOT/train/<class>/*.npy and ROOT/test/<class>/*.npy: one recording each, fields or columns "
          "x, y, p, t (t in microseconds, in time order)")


@dataclass(frozen=True)
class EventLayout:
    """What a folder's dataset.json says: the sensor (width, height, polarities) and the class names."""

    sensor_size: tuple[int, int, int]
    classes: tuple[str, ...]


def read_layout(root: str | os.PathLike) -> EventLayout:
    """The dataset.json of a folder of recordings; ConfigError naming what is missing or wrong."""
    path = Path(root) / "dataset.json"
    if not Path(root).is_dir():
        raise ConfigError(f"data_dir={str(root)!r} is not a folder; it must hold {LAYOUT}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"data_dir={str(root)!r}: cannot read {path} ({err}); it must hold {LAYOUT}") from err
    meta = meta if isinstance(meta, dict) else {}
    sensor, classes = meta.get("sensor_size"), meta.get("classes")
    if (not isinstance(sensor, list) or len(sensor) != 3
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sensor)):
        raise ConfigError(f"{path}: sensor_size={sensor!r} must be [width, height, polarities], positive integers")
    if (not isinstance(classes, list) or len(classes) < 2 or len(set(classes)) != len(classes)
            or not all(isinstance(c, str) and c and "/" not in c for c in classes)):
        raise ConfigError(f"{path}: classes={classes!r} must be a list of at least two distinct folder names")
    return EventLayout(tuple(sensor), tuple(classes))


class EventFolder:
    """One split of a folder of the user's own recordings, tonic-like: ``ds[i]`` is the transformed
    recording and its label."""

    def __init__(self, root: str | os.PathLike, split: str, transform=None):
        check_choice("split", split, SPLITS)
        self.layout = read_layout(root)
        self.location_on_system = Path(root) / split
        self.data, self.targets = [], []
        for label, name in enumerate(self.layout.classes):
            self.data += sorted(str(p) for p in (self.location_on_system / name).glob("*.npy"))
            self.targets += [label] * (len(self.data) - len(self.targets))
        if not self.data:
            raise ConfigError(f"data_dir={str(root)!r} has no recordings in {self.location_on_system}/<class>/*.npy; "
                              f"it must hold {LAYOUT}")
        self.transform = transform
        self.sensor_size = self.layout.sensor_size

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        events = read_recording(Path(self.data[i]), self.sensor_size)
        return (self.transform(events) if self.transform else events), self.targets[i]


def _tonic_class(name: str) -> type:
    """The class ``tonic.datasets.<name>``; ConfigError listing the dataset classes tonic has."""
    tonic = import_tonic()
    known = sorted(n for n in dir(tonic.datasets) if n[:1].isupper() and isinstance(getattr(tonic.datasets, n), type))
    check_choice("tonic_dataset", name, known)
    return getattr(tonic.datasets, name)


def tonic_dataset(name: str, data_dir, split: str, transform=None, download: bool = False):
    """``tonic.datasets.<name>`` for one split, read from data_dir (downloaded only if asked)."""
    kind = _tonic_class(name)
    if not download:   # tonic downloads by itself whenever the data look missing: a subclass refuses
        def refuse(self):
            raise ConfigError(f"tonic_dataset={name!r}: the {split} split is not in data_dir={str(data_dir)!r}; "
                              "pass --download to let tonic fetch it")
        kind = type(name, (kind,), {"download": refuse})
    try:
        return kind(save_to=str(data_dir), train=split == "train", transform=transform)
    except TypeError as err:   # the few tonic datasets without a train/test split
        raise ConfigError(f"tonic_dataset={name!r} has no train and test splits ({err})") from err


class FolderFrames(EventFrames):
    """One split of a folder of recordings, or of a tonic dataset, as frames (see EventFrames)."""

    def __init__(self, data_dir: str | os.PathLike, split: str, prep: GesturePreprocessing, *,
                 tonic_name: str | None = None, cache_dir=None, download: bool = False):
        check_choice("split", split, SPLITS)
        self.prep, self.split, self.data_dir = prep, split, Path(data_dir)
        transform = frame_transform(prep)
        if tonic_name is None:
            dataset = EventFolder(data_dir, split, transform)
            self.classes = dataset.layout.classes
        else:
            dataset = tonic_dataset(tonic_name, data_dir, split, transform, download)
            self.classes = tuple(getattr(dataset, "classes", range(int(max(dataset.targets)) + 1)))
        self.n_classes = len(self.classes)
        location = Path(getattr(dataset, "location_on_system", data_dir))
        if not all(isinstance(path, str) for path in dataset.data):   # the cache is keyed by the files
            raise ConfigError(f"tonic_dataset={tonic_name!r} keeps its recordings in memory, not one file each; "
                              "only file-based datasets are supported")
        order = sorted(range(len(dataset.data)), key=lambda i: dataset.data[i])
        files = tuple(str(Path(dataset.data[i]).relative_to(location)) for i in order)
        labels = np.array([int(dataset.targets[i]) for i in order], dtype=np.int64)
        self.users = np.arange(len(order))   # no speakers or users: every recording is its own group
        cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir / "frames_cache"
        self._load(dataset, order, location, files, labels, cache_dir)

    def held_out(self, n: int) -> np.ndarray:
        """n recordings, a seeded choice spread over the classes."""
        mask = np.zeros(len(self.labels), dtype=bool)
        mask[np.random.default_rng(2).permutation(len(self.labels))[:n]] = True
        return mask


def sensor_of(data_dir, tonic_name: str | None) -> tuple[int, int, int]:
    """The (width, height, polarities) of a folder's dataset.json or of a tonic dataset class."""
    if tonic_name is None:
        return read_layout(data_dir).sensor_size
    sensor = getattr(_tonic_class(tonic_name), "sensor_size", None)
    if sensor is None or len(sensor) != 3:
        raise ConfigError(f"tonic_dataset={tonic_name!r} is not an event-camera dataset (sensor_size {sensor!r})")
    return tuple(int(n) for n in sensor)
