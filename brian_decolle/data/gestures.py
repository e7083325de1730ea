"""DVS Gesture data for the DECOLLE study (paper Sec. 4.3), read through tonic.

``GestureFrames`` loads the real set (IBM DVS Gesture, 11 classes, 128x128 DVS)
or the synthetic stand-in of :mod:`brian_decolle.data.synthetic_gestures` the
way decolle-public's torchneuromorphic does: events pooled to 32x32 (x//4,
y//4), binned into 1 ms frames with two polarity channels, random 500 ms
windows for training and the first 1800 ms of each recording for testing.

Event parsing, pooling and binning are tonic's (``DVSGesture``, ``Downsample``,
``ToFrame``); binning a recording is slow in Python, so the frames of every
full recording are cached on disk (sparse, one npz per split) and windows are
cut from the cache. Tonic downloads whenever the data looks missing, so the
layout is checked here first and only ``download=True`` lets tonic go online.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import ConfigError, check_choice, check_count, check_positive

N_CLASSES = 11
SENSOR = (128, 128, 2)          # DVS128: width, height, polarities (tonic's sensor_size)
FRAMES = ("counts", "binary")
SPLITS = ("train", "test")
MARKER = "SYNTHETIC.txt"
ARCHIVES = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}  # + ".tar.gz" / folder
MIN_FILES = 100                 # tonic's "already extracted" test: at least this many .npy per split
_CACHE_VERSION = 1              # bump when the cache format or the binning changes


def _layout(data_dir: Path) -> str:
    return (f"{data_dir}/\n"
            "  DVSGesture/\n"
            "    ibmGestureTrain.tar.gz      (only its presence is checked)\n"
            "    ibmGestureTrain/\n"
            "      user01_fluorescent/0.npy ... 10.npy   (>= 100 .npy files in all;\n"
            "      ...                                   float64 rows x, y, p, t[ms])\n"
            "    ibmGestureTest.tar.gz\n"
            "    ibmGestureTest/\n"
            "      user24_fluorescent/0.npy ... 10.npy   (>= 100 .npy files)")


def check_data_dir(data_dir: str | os.PathLike, split: str) -> None:
    """Raise one ConfigError if tonic would find `split` missing (and so try to download it).

    Mirrors tonic's own test: the archive file exists and the extracted folder
    holds at least 100 .npy files.
    """
    check_choice("split", split, SPLITS)
    data_dir = Path(data_dir)
    root = data_dir / "DVSGesture"
    archive = root / f"{ARCHIVES[split]}.tar.gz"
    folder = root / ARCHIVES[split]
    if not data_dir.is_dir():
        missing = "the folder does not exist"
    elif not root.is_dir():
        missing = f"it has no DVSGesture/ folder ({root})"
    elif not archive.is_file():
        missing = f"the file {archive} is missing"
    else:
        n = len(list(folder.glob("**/*.npy")))
        if n >= MIN_FILES:
            return
        missing = f"{folder} holds {n} .npy files; tonic needs at least {MIN_FILES}"
    raise ConfigError(
        f"data_dir={str(data_dir)!r} has no DVS Gesture {split} split: {missing}. Expected layout:\n"
        f"{_layout(data_dir)}\n"
        "Pass --download to fetch the real set, or generate the synthetic stand-in with "
        "`python -m brian_decolle.data.synthetic_gestures synthetic_dvsgesture` (write_synthetic_gestures) "
        "and pass that folder.")


def is_synthetic(data_dir: str | os.PathLike) -> bool:
    """True if `data_dir` holds the synthetic stand-in written by write_synthetic_gestures."""
    return (Path(data_dir) / "DVSGesture" / MARKER).is_file()


# --------------------------------------------------------------------------- loading

@dataclass(frozen=True)
class GesturePreprocessing:
    """How recordings become frames; defaults follow decolle-public's DVS Gesture setup."""

    frames: str = "counts"              # 'counts': events per pixel and frame; 'binary': clipped to 1
    downsample: int = 4                 # 128x128 -> 32x32 by x//4, y//4
    dt_ms: float = 1.0                  # frame length
    train_window_ms: float = 500.0      # random window of each training recording
    test_window_ms: float = 1800.0      # first part of each test recording
    sensor: tuple[int, int, int] = SENSOR   # width, height, polarities of the recordings (tonic's sensor_size)

    def __post_init__(self):
        check_choice("frames", self.frames, FRAMES)
        check_count("downsample", self.downsample)
        if (not isinstance(self.sensor, (tuple, list)) or len(self.sensor) != 3
                or not all(isinstance(n, int) and n > 0 for n in self.sensor)):
            raise ConfigError(f"sensor_size={self.sensor!r} must be (width, height, polarities), positive integers")
        if self.sensor[0] % self.downsample or self.sensor[1] % self.downsample:
            # powers of two only: tonic pools by multiplying with 1/downsample, exact only for those
            raise ConfigError(f"downsample={self.downsample!r} must divide the sensor's width and height "
                              f"{self.sensor[:2]} (1, 2, 4, 8, ...)")
        check_positive("dt_ms", self.dt_ms)
        for name in ("train_window_ms", "test_window_ms"):
            check_positive(name, getattr(self, name))
            if getattr(self, name) < self.dt_ms:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be at least dt_ms={self.dt_ms!r}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one frame."""
        width, height, polarities = self.sensor
        return polarities, height // self.downsample, width // self.downsample


def random_window_start(n_frames: int, n_steps: int, rng: np.random.Generator | int) -> int:
    """First frame of a training window of n_steps frames in a recording of n_frames frames.

    Uniform over the starts that keep the window inside the recording; 0 when the
    recording is shorter than the window (which is then zero-padded). ``rng`` is a
    Generator, or a seed for a fresh one, so that the start is a function of the seed.
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return int(rng.integers(0, max(int(n_frames) - n_steps, 0) + 1))


class EventFrames:
    """One split of an event dataset as frames, (polarities, H, W) float32 per step, cut from a
    sparse on-disk cache of every recording's frames.

    :meth:`window` cuts n_steps frames of a recording from a given frame; a window running
    past the end of the recording is zero-padded, as torchneuromorphic does, so that every
    sample has exactly n_steps frames. Where the windows start is the caller's choice
    (:class:`GestureSamples`: seeded random starts for training, the first event for tests).
    Subclasses find the recordings (files, labels, a tonic-like dataset) and call ``_load``.
    """

    n_classes: int

    def _load(self, dataset, order: Sequence[int], location: Path, files: tuple, labels: np.ndarray,
              cache_dir: Path) -> None:
        """Bin the recordings once (``dataset[i]`` gives frames), or read them from the cache."""
        self.files, self.labels = files, labels
        self.cache_path = cache_dir / f"{self.split}_{_cache_key(location, self.files, self.prep)}.npz"
        self.from_cache = self.cache_path.is_file()
        if not self.from_cache:
            _write_cache(self.cache_path, dataset, order, self.files, self.labels)
        with np.load(self.cache_path) as cache:
            if tuple(cache["files"]) != self.files or not np.array_equal(cache["labels"], self.labels):
                raise ConfigError(f"cache {self.cache_path} does not match data_dir={str(self.data_dir)!r}; "
                                  "delete it to rebuild")
            self._frame, self._pixel, self._count = cache["frame"], cache["pixel"], cache["count"]
            self._offsets, self.n_frames = cache["offsets"], cache["n_frames"]

    def held_out(self, n: int) -> np.ndarray:
        """A mask of the recordings held out for validation (n of whatever unit the dataset groups by)."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.labels)

    def window(self, i: int, start: int, n_steps: int) -> np.ndarray:
        """Frames start .. start+n_steps of recording i, (n_steps, polarities, H, W) float32, zero-padded
        (the whole recording: start 0, n_steps ``n_frames[i]``)."""
        out = np.zeros((n_steps, *self.prep.shape), dtype=np.float32)
        flat = out.reshape(n_steps, -1)
        lo, hi = self._offsets[i], self._offsets[i + 1]
        frame = self._frame[lo:hi]
        a, b = np.searchsorted(frame, [start, start + n_steps])
        values = self._count[lo + a:lo + b] if self.prep.frames == "counts" else 1.0
        flat[frame[a:b] - start, self._pixel[lo + a:lo + b]] = values
        return out


class GestureFrames(EventFrames):
    """One split of DVS Gesture (real or synthetic) as frames, (2, 32, 32) float32 per step.
    Samples are ordered by (user, lighting, label), not by tonic's os.walk order."""

    n_classes = N_CLASSES

    def __init__(self, data_dir: str | os.PathLike, split: str = "train",
                 prep: GesturePreprocessing | None = None, *,
                 cache_dir: str | os.PathLike | None = None, download: bool = False):
        self.prep = prep if prep is not None else GesturePreprocessing()
        check_choice("split", split, SPLITS)
        self.split = split
        self.data_dir = Path(data_dir)
        if not download:  # tonic downloads by itself whenever a split looks missing
            check_data_dir(self.data_dir, split)
        dataset = _tonic_dataset(self.data_dir, split, self.prep)
        # os.walk order depends on the file system; sort for repeatable sample indices
        order = sorted(range(len(dataset.data)),
                       key=lambda i: (dataset.users[i], dataset.lighting[i], dataset.targets[i]))
        location = Path(dataset.location_on_system)
        files = tuple(str(Path(dataset.data[i]).relative_to(location)) for i in order)
        labels = np.array([dataset.targets[i] for i in order], dtype=np.int64)
        self.users = np.array([dataset.users[i] for i in order], dtype=np.int64)
        cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir / "frames_cache"
        self._load(dataset, order, location, files, labels, cache_dir)

    def held_out(self, n: int) -> np.ndarray:
        """The recordings of the last n training users."""
        users = np.unique(self.users)
        return np.isin(self.users, users[len(users) - n:])


#: tonic's structured events (its DVSGesture keeps p as bool; 0/1 either way)
EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", np.int8), ("t", np.int64)])


def read_recording(path: Path, sensor: tuple[int, int, int], t_unit_us: int = 1) -> np.ndarray:
    """One recording file as tonic's structured events (t in microseconds; the file's t is in units of
    t_unit_us); ConfigError naming the file if it is not one (unreadable or truncated, wrong shape or
    fields, events out of time order, coordinates outside the sensor). The one check of every
    recording that the event study and the DVS Gesture study read."""
    try:
        raw = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:   # (a truncated .npy: "Failed to read all data")
        raise ConfigError(f"{path} is not a numpy file of events, or is truncated ({err})") from err
    if raw.dtype.names:
        if not {"x", "y", "p", "t"} <= set(raw.dtype.names) or raw.ndim != 1:
            raise ConfigError(f"{path}: a structured array needs fields x, y, p, t (has {raw.dtype.names})")
        columns = [raw[name] for name in "xypt"]
    elif raw.ndim == 2 and raw.shape[1] == 4 and np.issubdtype(raw.dtype, np.number):
        columns = list(raw.T)
    else:
        raise ConfigError(f"{path}: shape {raw.shape} of {raw.dtype}; a recording is an (N, 4) array of x, y, p, t "
                          "or a structured array with those fields")
    events = np.empty(len(columns[0]), dtype=EVENT_DTYPE)
    for name, values, bound in zip("xyp", columns[:3], sensor):
        if len(values) and (not np.all(np.isfinite(values)) or values.min() < 0 or values.max() >= bound):
            raise ConfigError(f"{path}: {name} must lie in 0..{bound - 1} (the sensor's size {tuple(sensor)})")
        events[name] = values
    t = np.asarray(columns[3])
    if len(t) and (not np.all(np.isfinite(t)) or np.any(np.diff(t) < 0)):
        raise ConfigError(f"{path}: the events are not in time order (t must not decrease)")
    events["t"] = t * t_unit_us
    return events


def import_tonic():
    """tonic, or a ConfigError naming the extra that installs it."""
    try:
        import tonic
    except ImportError as err:  # tonic (and its audio side: numba, librosa) is an extra, not the core
        raise ConfigError("event data are read by tonic, which is not installed: "
                          "pip install 'brian-decolle[dvs]'") from err
    return tonic


def frame_transform(prep: GesturePreprocessing):
    """tonic's pooling and binning of one recording's events into frames (polarities, H, W) per dt_ms."""
    tonic = import_tonic()
    polarities, height, width = prep.shape
    # include_incomplete keeps a last, partial frame (dt_ms > 1). Windows are half-open and start at the
    # first event, so with tonic's whole-ms stamps the events of the very last ms still fall out.
    return tonic.transforms.Compose([
        tonic.transforms.Downsample(spatial_factor=1 / prep.downsample),
        tonic.transforms.ToFrame(sensor_size=(width, height, polarities), time_window=prep.dt_ms * 1000,
                                 include_incomplete=True),
    ])


def _tonic_dataset(data_dir: Path, split: str, prep: GesturePreprocessing):
    # (the same class name: tonic finds its folder, DVSGesture/, by the class's name)
    class DVSGesture(import_tonic().datasets.DVSGesture):
        """tonic's DVSGesture, each file read through read_recording (tonic's own reading of it checks nothing)."""

        def __getitem__(self, index):
            # tonic's files: float rows x, y, p, t in ms
            events = read_recording(Path(self.data[index]), self.sensor_size, t_unit_us=1000)
            return self.transform(events), self.targets[index]

    return DVSGesture(save_to=str(data_dir), train=split == "train", transform=frame_transform(prep))


def _cache_key(location: Path, files: Sequence[str], prep: GesturePreprocessing) -> str:
    # frames and window lengths are applied when cutting windows, so they share one cache
    stats = [(f, (location / f).stat().st_size, (location / f).stat().st_mtime_ns) for f in files]
    settings = {"version": _CACHE_VERSION, "downsample": prep.downsample, "dt_ms": prep.dt_ms, "files": stats}
    digest = hashlib.sha1(json.dumps(settings).encode()).hexdigest()[:12]
    return f"ds{prep.downsample}_dt{prep.dt_ms:g}ms_{digest}"


def _write_cache(path: Path, dataset, order: Sequence[int], files: Sequence[str], labels: np.ndarray) -> None:
    """Bin every recording once through tonic and store the non-zero frame entries."""
    frame, pixel, count, n_frames = [], [], [], []
    for i in order:
        frames, _ = dataset[i]                        # (n_frames, 2, H, W) int16 event counts
        flat = frames.reshape(len(frames), -1)
        t, px = np.nonzero(flat)                      # C order: sorted by frame, as window() needs
        frame.append(t.astype(np.int32))
        pixel.append(px.astype(np.uint16))
        count.append(flat[t, px].astype(np.uint16))
        n_frames.append(len(frames))
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in frame])]).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.tmp{os.getpid()}.npz")  # atomic: a killed run leaves no half cache
    np.savez_compressed(tmp, frame=np.concatenate(frame), pixel=np.concatenate(pixel),
                        count=np.concatenate(count), offsets=offsets,
                        n_frames=np.array(n_frames, dtype=np.int64), labels=labels, files=np.array(files))
    os.replace(tmp, path)


class GestureSamples:
    """Training windows at seeded random starts, validation and test sequences from their start
    (a SampleSource) of any EventFrames. The validation recordings are those the training frames
    hold out (DVS Gesture: the last ``validation_users`` training users): settings are chosen on
    them, the test set is used once."""

    def __init__(self, train: EventFrames, test: EventFrames, n_test: int | None = None,
                 validation_users: int = 0, name: str = "validation_users"):
        groups = len(np.unique(train.users))
        if not isinstance(validation_users, int) or isinstance(validation_users, bool) \
                or not 0 <= validation_users < groups:
            raise ConfigError(f"{name}={validation_users!r} must be an integer in [0, {groups}): "
                              f"the {groups} training groups must keep at least one")
        held_out = train.held_out(validation_users)
        self.n_classes = train.n_classes
        self.train, self.test = train, test
        self.train_recordings = np.nonzero(~held_out)[0]
        # spread over users and classes: the recordings are sorted by (user, lighting, label)
        self.validation_recordings = np.random.default_rng(1).permutation(np.nonzero(held_out)[0])
        self.n_train, self.n_validation = len(self.train_recordings), len(self.validation_recordings)
        self.n_test = len(test) if n_test is None else min(n_test, len(test))
        self.test_order = np.random.default_rng(0).permutation(len(test))

    def train_sample(self, index, n_steps, seed):
        # a fresh generator per sample from the study's per-sample seed, so runs repeat sample by sample
        i = int(self.train_recordings[index])
        start = random_window_start(self.train.n_frames[i], n_steps, seed)
        return self.train.window(i, start, n_steps).reshape(n_steps, -1), int(self.train.labels[i])

    def validation_sample(self, index, n_steps):
        i = int(self.validation_recordings[index])
        return self.train.window(i, 0, n_steps).reshape(n_steps, -1), int(self.train.labels[i])

    def test_sample(self, index, n_steps):
        i = int(self.test_order[index])
        return self.test.window(i, 0, n_steps).reshape(n_steps, -1), int(self.test.labels[i])
