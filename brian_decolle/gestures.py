"""DVS Gesture data for the DECOLLE study (paper Sec. 4.3), read through tonic.

The real set (IBM DVS Gesture, 11 classes, 128x128 DVS) is large and cannot be
fetched on machines without internet, so this module has two halves:

* ``write_synthetic_gestures`` writes a clearly labelled *synthetic* stand-in in
  tonic's exact on-disk layout, so the whole pipeline (tonic included) runs and
  can be tested anywhere. It is not the real data; nothing here pretends it is.
* ``GestureFrames`` loads either set the way decolle-public's torchneuromorphic
  does: events pooled to 32x32 (x//4, y//4), binned into 1 ms frames with two
  polarity channels, random 500 ms windows for training and the first 1800 ms of
  each recording for testing.

Event parsing, pooling and binning are tonic's (``DVSGesture``, ``Downsample``,
``ToFrame``); binning a recording is slow in Python, so the frames of every
full recording are cached on disk (sparse, one npz per split) and windows are
cut from the cache. Tonic downloads whenever the data looks missing, so the
layout is checked here first and only ``download=True`` lets tonic go online.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classification import Schedule, progress, train_and_test, write_results
from .config import ConfigError, ConvLayer, NetworkConfig, check_choice, check_count, check_positive

N_CLASSES = 11
SENSOR = (128, 128, 2)          # DVS128: width, height, polarities (tonic's sensor_size)
FRAMES = ("counts", "binary")
SPLITS = ("train", "test")
MARKER = "SYNTHETIC.txt"
_ARCHIVES = {"train": "ibmGestureTrain", "test": "ibmGestureTest"}  # + ".tar.gz" / folder
_MIN_FILES = 100                # tonic's "already extracted" test: at least this many .npy per split
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
    archive = root / f"{_ARCHIVES[split]}.tar.gz"
    folder = root / _ARCHIVES[split]
    if not data_dir.is_dir():
        missing = "the folder does not exist"
    elif not root.is_dir():
        missing = f"it has no DVSGesture/ folder ({root})"
    elif not archive.is_file():
        missing = f"the file {archive} is missing"
    else:
        n = len(list(folder.glob("**/*.npy")))
        if n >= _MIN_FILES:
            return
        missing = f"{folder} holds {n} .npy files; tonic needs at least {_MIN_FILES}"
    raise ConfigError(
        f"data_dir={str(data_dir)!r} has no DVS Gesture {split} split: {missing}. Expected layout:\n"
        f"{_layout(data_dir)}\n"
        "Pass --download to fetch the real set, or generate the synthetic stand-in with "
        "`python -m brian_decolle.gestures synthetic_dvsgesture` (write_synthetic_gestures) "
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

    def __post_init__(self):
        check_choice("frames", self.frames, FRAMES)
        check_count("downsample", self.downsample)
        if SENSOR[0] % self.downsample:
            # powers of two only: tonic pools by multiplying with 1/downsample, exact only for those
            raise ConfigError(f"downsample={self.downsample!r} must divide {SENSOR[0]} (1, 2, 4, 8, ...)")
        check_positive("dt_ms", self.dt_ms)
        for name in ("train_window_ms", "test_window_ms"):
            check_positive(name, getattr(self, name))
            if getattr(self, name) < self.dt_ms:
                raise ConfigError(f"{name}={getattr(self, name)!r} must be at least dt_ms={self.dt_ms!r}")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one frame."""
        side = SENSOR[0] // self.downsample
        return SENSOR[2], side, side

    def n_steps(self, split: str) -> int:
        check_choice("split", split, SPLITS)
        window = self.train_window_ms if split == "train" else self.test_window_ms
        return int(round(window / self.dt_ms))


class GestureFrames:
    """One split of DVS Gesture (real or synthetic) as frames, (n_steps, 2, 32, 32) float32.

    ``ds[i]`` is ``(frames, label)``: for 'train' a window starting at a random
    frame drawn from this object's seeded generator (so the same seed gives the
    same sequence of windows), for 'test' the window starting at the first event.
    A window running past the end of a recording is zero-padded, as
    torchneuromorphic does, so that every sample has exactly n_steps frames.
    Samples are ordered by (user, lighting, label), not by tonic's os.walk order.
    """

    def __init__(self, data_dir: str | os.PathLike, split: str = "train",
                 prep: GesturePreprocessing | None = None, *,
                 cache_dir: str | os.PathLike | None = None, seed: int = 0, download: bool = False):
        self.prep = prep if prep is not None else GesturePreprocessing()
        self.split = split
        self.data_dir = Path(data_dir)
        self.n_steps = self.prep.n_steps(split)
        if not download:  # tonic downloads by itself whenever a split looks missing
            check_data_dir(self.data_dir, split)
        dataset = _tonic_dataset(self.data_dir, split, self.prep)
        # os.walk order depends on the file system; sort for repeatable sample indices
        order = sorted(range(len(dataset.data)),
                       key=lambda i: (dataset.users[i], dataset.lighting[i], dataset.targets[i]))
        location = Path(dataset.location_on_system)
        self.files = tuple(str(Path(dataset.data[i]).relative_to(location)) for i in order)
        self.labels = np.array([dataset.targets[i] for i in order], dtype=np.int64)
        self.users = np.array([dataset.users[i] for i in order], dtype=np.int64)
        cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir / "frames_cache"
        self.cache_path = cache_dir / f"{split}_{_cache_key(location, self.files, self.prep)}.npz"
        self.from_cache = self.cache_path.is_file()
        if not self.from_cache:
            _write_cache(self.cache_path, dataset, order, self.files, self.labels)
        with np.load(self.cache_path) as cache:
            if tuple(cache["files"]) != self.files or not np.array_equal(cache["labels"], self.labels):
                raise ConfigError(f"cache {self.cache_path} does not match data_dir={str(self.data_dir)!r}; "
                                  "delete it to rebuild")
            self._frame, self._pixel, self._count = cache["frame"], cache["pixel"], cache["count"]
            self._offsets, self.n_frames = cache["offsets"], cache["n_frames"]
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def window(self, i: int, start: int, n_steps: int | None = None) -> np.ndarray:
        """Frames start .. start+n_steps of recording i, (n_steps, 2, H, W) float32, zero-padded."""
        n = self.n_steps if n_steps is None else n_steps
        out = np.zeros((n, *self.prep.shape), dtype=np.float32)
        self._fill(out.reshape(n, -1), i, start)
        return out

    def _fill(self, out: np.ndarray, i: int, start: int) -> None:
        """Write the window of recording i that starts at `start` into zeroed out (n_steps, pixels)."""
        lo, hi = self._offsets[i], self._offsets[i + 1]
        frame = self._frame[lo:hi]
        a, b = np.searchsorted(frame, [start, start + len(out)])
        values = self._count[lo + a:lo + b] if self.prep.frames == "counts" else 1.0
        out[frame[a:b] - start, self._pixel[lo + a:lo + b]] = values

    def recording(self, i: int) -> np.ndarray:
        """All frames of recording i, (n_frames[i], 2, H, W) float32."""
        return self.window(i, 0, int(self.n_frames[i]))

    def window_start(self, i: int) -> int:
        """First frame of the next window of recording i: random for 'train', 0 for 'test'."""
        if self.split == "test":
            return 0
        return int(self.rng.integers(0, max(int(self.n_frames[i]) - self.n_steps, 0) + 1))

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        return self.window(i, self.window_start(i)), int(self.labels[i])

    def batch(self, indices: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """Samples stacked: frames (batch, n_steps, 2, H, W) float32 and labels (batch,) int64."""
        indices = [int(i) for i in indices]
        frames = np.zeros((len(indices), self.n_steps, *self.prep.shape), dtype=np.float32)
        for out, i in zip(frames.reshape(len(indices), self.n_steps, -1), indices):
            self._fill(out, i, self.window_start(i))   # filled in place: a test batch is large
        return frames, self.labels[indices]


def _tonic_dataset(data_dir: Path, split: str, prep: GesturePreprocessing):
    try:
        import tonic
    except ImportError as err:  # tonic is an extra of the gesture study, not of the package
        raise ImportError("the DVS Gesture study needs tonic: pip install tonic==1.7.0") from err
    _, height, width = prep.shape
    # include_incomplete keeps a last, partial frame (dt_ms > 1). Windows are half-open and start at the
    # first event, so with tonic's whole-ms stamps the events of the very last ms still fall out.
    transform = tonic.transforms.Compose([
        tonic.transforms.Downsample(spatial_factor=1 / prep.downsample),
        tonic.transforms.ToFrame(sensor_size=(width, height, SENSOR[2]), time_window=prep.dt_ms * 1000,
                                 include_incomplete=True),
    ])
    return tonic.datasets.DVSGesture(save_to=str(data_dir), train=split == "train", transform=transform)


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


# --------------------------------------------------------------------------- synthetic stand-in

_SYNTHETIC_CLASSES = (
    "two blobs meeting and parting (clap)",
    "blob waving left-right, upper right (right hand wave)",
    "blob waving left-right, upper left (left hand wave)",
    "clockwise circle, right half (right arm cw)",
    "counter-clockwise circle, right half (right arm ccw)",
    "clockwise circle, left half (left arm cw)",
    "counter-clockwise circle, left half (left arm ccw)",
    "two blobs rolling around each other, centre (arm roll)",
    "two blobs beating up-down in antiphase, low (air drums)",
    "fast vertical strum right plus slow blob left (air guitar)",
    "smooth random trajectory (other gestures)",
)


def _gesture_path(label: int, rng: np.random.Generator) -> Callable[[np.ndarray], np.ndarray]:
    """Blob centres (n_blobs, len(t), 2) in pixels at times t (s), for one jittered sample of `label`.

    Classes differ in where (left/right/centre), how (circle, sweep, pair) and in
    which sense they move; speed, phase, size and position are jittered per sample
    so that no single frame gives the class away.
    """
    omega = 2 * np.pi * rng.uniform(0.8, 1.25)       # about one cycle per second
    phase = rng.uniform(0, 2 * np.pi)
    size = rng.uniform(0.85, 1.15)
    shift = rng.uniform(-8, 8, size=2)
    wander = (rng.uniform(0.3, 1.5, (2, 3)), rng.uniform(4, 12, (2, 3)), rng.uniform(0, 2 * np.pi, (2, 3)))

    def blob(cx, cy, dx, dy) -> np.ndarray:
        return np.stack(np.broadcast_arrays(cx + shift[0] + size * dx, cy + shift[1] + size * dy), axis=-1)

    def path(t: np.ndarray) -> np.ndarray:
        s = omega * t + phase
        if label == 0:
            gap = 6 + 8 * (1 + np.cos(2 * s))
            return np.stack([blob(64, 64, -gap, 0), blob(64, 64, gap, 0)])
        if label in (1, 2):
            return blob(88 if label == 1 else 40, 36, 14 * np.sin(2 * s), 0)[None]
        if label in (3, 4, 5, 6):
            sense = 1 if label in (3, 5) else -1      # y grows downwards: +angle is clockwise on screen
            cx = 88 if label in (3, 4) else 40
            return blob(cx, 64, 18 * np.cos(sense * s), 18 * np.sin(sense * s))[None]
        if label == 7:
            return np.stack([blob(64, 72, 10 * np.cos(2 * s + k), 10 * np.sin(2 * s + k)) for k in (0, np.pi)])
        if label == 8:
            return np.stack([blob(48, 84, 0, 10 * np.sin(2 * s)), blob(80, 84, 0, -10 * np.sin(2 * s))])
        if label == 9:
            return np.stack([blob(76, 76, 0, 12 * np.sin(2.5 * s)), blob(36, 56, 4 * np.sin(0.5 * s), 0)])
        freq, amp, ph = wander
        dx, dy = ((amp[k, :, None] * np.sin(2 * np.pi * freq[k, :, None] * t + ph[k, :, None])).sum(0)
                  for k in (0, 1))
        return blob(64, 64, dx, dy)[None]

    return path


def _synthetic_recording(label: int, duration_ms: float, rate: float, noise_fraction: float,
                         rng: np.random.Generator) -> np.ndarray:
    """One recording as tonic stores it: float64 rows (x, y, p, t[ms]), sorted by t."""
    path = _gesture_path(label, rng)
    sigma = rng.uniform(2.5, 4.0)
    n = rng.poisson(rate * duration_ms / 1000)
    n_noise = rng.binomial(n, noise_fraction)
    t = rng.uniform(0, duration_ms, n - n_noise)
    centres = path(t / 1000)
    velocity = path(t / 1000 + 1e-3) - centres
    which = rng.integers(0, len(centres), len(t))
    offset = rng.normal(0, sigma, (len(t), 2))
    xy = centres[which, np.arange(len(t))] + offset
    # a moving edge: ON events ahead of the blob, OFF events behind it, as a DVS sees a bright hand
    p = (offset * velocity[which, np.arange(len(t))]).sum(1) > 0
    xy = np.concatenate([xy, rng.uniform(0, SENSOR[0], (n_noise, 2))])
    p = np.concatenate([p, rng.random(n_noise) < 0.5])
    # real recordings are cut out of longer ones, so they do not start at t = 0; ms precision like tonic's copy
    t = np.floor(np.concatenate([t, rng.uniform(0, duration_ms, n_noise)]) + rng.integers(0, 5000))
    xy = np.floor(xy)
    keep = ((xy >= 0) & (xy < SENSOR[0])).all(1)
    events = np.column_stack([xy[keep], p[keep], t[keep]]).astype(np.float64)
    return events[np.argsort(events[:, 3], kind="stable")]


def _readme_archive(path: Path, text: str) -> None:
    """A real tar.gz holding only a README, so that tonic's presence check passes honestly."""
    data = text.encode()
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("README_SYNTHETIC.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def write_synthetic_gestures(root: str | os.PathLike, *, seed: int = 0,
                             duration_ms: tuple[float, float] = (2000.0, 2500.0),
                             events_per_second: float = 2000.0, noise_fraction: float = 0.1,
                             lightings: int = 2, train_users: Sequence[int] = range(1, 24),
                             test_users: Sequence[int] = range(24, 30)) -> Path:
    """Write a synthetic DVS Gesture stand-in under root/DVSGesture/ in tonic's layout; return root.

    11 classes of moving event blobs (see SYNTHETIC.txt), one file per class in
    each root/DVSGesture/ibmGesture{Train,Test}/userNN_synthetic<k>/ folder, users
    1-23 train and 24-29 test as in the real set. Each file depends only on
    (seed, user, k, label). Durations are drawn uniformly from duration_ms.
    Refuses to write into a DVSGesture/ folder that is not synthetic.
    """
    check_count("lightings", lightings)
    check_positive("events_per_second", events_per_second)
    lo, hi = duration_ms
    check_positive("duration_ms[0]", lo)
    if not hi >= lo:
        raise ConfigError(f"duration_ms={duration_ms!r} must be (shortest, longest)")
    if not 0 <= noise_fraction < 1:
        raise ConfigError(f"noise_fraction={noise_fraction!r} must lie in [0, 1)")
    for name, users in (("train_users", train_users), ("test_users", test_users)):
        if len(users) * lightings * N_CLASSES < _MIN_FILES:
            raise ConfigError(f"{name}={list(users)!r} x lightings={lightings} x {N_CLASSES} classes gives fewer "
                              f"than the {_MIN_FILES} files tonic needs to accept a split")
    base = Path(root) / "DVSGesture"
    if base.exists() and any(base.iterdir()) and not is_synthetic(root):
        raise ConfigError(f"root={str(root)!r} already holds a DVSGesture/ folder that is not synthetic; "
                          "refusing to write synthetic data into it")
    base.mkdir(parents=True, exist_ok=True)
    settings = dict(seed=seed, duration_ms=list(duration_ms), events_per_second=events_per_second,
                    noise_fraction=noise_fraction, lightings=lightings,
                    train_users=list(train_users), test_users=list(test_users))
    note = ("SYNTHETIC DATA - NOT the IBM DVS Gesture recordings.\n"
            "Written by brian_decolle.gestures.write_synthetic_gestures in tonic's DVSGesture layout so the\n"
            "gesture study runs without the real set. Moving Gaussian blobs of events on a 128x128 sensor;\n"
            "ON events lead, OFF events trail the motion; uniform noise events; per-sample jitter of speed,\n"
            "phase, size and position. Results on it say nothing about the real benchmark.\n\n"
            "Classes:\n" + "".join(f"  {k:2d}: {c}\n" for k, c in enumerate(_SYNTHETIC_CLASSES))
            + "\nSettings: " + json.dumps(settings) + "\n")
    (base / MARKER).write_text(note)
    for split, users in (("train", train_users), ("test", test_users)):
        folder = base / _ARCHIVES[split]
        shutil.rmtree(folder, ignore_errors=True)     # only ever a synthetic folder (checked above)
        _readme_archive(base / f"{_ARCHIVES[split]}.tar.gz", note)
        for user in users:
            for k in range(1, lightings + 1):
                sample_dir = folder / f"user{user:02d}_synthetic{k}"
                sample_dir.mkdir(parents=True)
                for label in range(N_CLASSES):
                    rng = np.random.default_rng([seed, user, k, label])
                    duration = rng.uniform(lo, hi)
                    events = _synthetic_recording(label, duration, events_per_second, noise_fraction, rng)
                    np.save(sample_dir / f"{label}.npy", events)
    return Path(root)


# ---- the study: networks, settings, run ---------------------------------------------------

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


class GestureSamples:
    """Training windows at seeded random starts, test sequences from the start (a SampleSource)."""

    n_classes = N_CLASSES

    def __init__(self, train: GestureFrames, test: GestureFrames, n_test: int | None = None):
        self.train, self.test = train, test
        self.n_train = len(train)
        self.n_test = len(test) if n_test is None else min(n_test, len(test))
        # spread over users and classes: the recordings are sorted by (user, lighting, label)
        self.test_order = np.random.default_rng(0).permutation(len(test))

    def train_sample(self, index, n_steps, seed):
        longest_start = max(int(self.train.n_frames[index]) - n_steps, 0)
        start = int(np.random.default_rng(seed).integers(0, longest_start + 1))
        return self.train.window(index, start, n_steps).reshape(n_steps, -1), int(self.train.labels[index])

    def test_sample(self, index, n_steps):
        i = int(self.test_order[index])
        return self.test.window(i, 0, n_steps).reshape(n_steps, -1), int(self.test.labels[i])


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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic DVS Gesture stand-in (not real data).")
    parser.add_argument("root", nargs="?", default="synthetic_dvsgesture")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(write_synthetic_gestures(args.root, seed=args.seed))


if __name__ == "__main__":
    main()
