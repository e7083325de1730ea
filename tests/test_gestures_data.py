"""DVS Gesture data through tonic, on the synthetic stand-in (the real set is not on these machines)."""
import shutil
import socket
import tarfile
import urllib.request

import numpy as np
import pytest

tonic = pytest.importorskip("tonic", reason="the gesture data need tonic: pip install 'brian-decolle[dvs]'")

from brian_decolle.config import ConfigError  # noqa: E402
from brian_decolle.data.gestures import (  # noqa: E402
    GestureFrames, GesturePreprocessing, GestureSamples, check_data_dir, is_synthetic, random_window_start)
from brian_decolle.data.synthetic_gestures import write_synthetic_gestures  # noqa: E402

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

# The smallest set tonic accepts: 5 users x 2 lightings x 11 classes = 110 >= 100 files per split,
# recordings just longer than the 1800 ms test window.
SMALL = dict(duration_ms=(1850.0, 1950.0), events_per_second=1000.0, lightings=2,
             train_users=range(1, 6), test_users=range(24, 29))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_synthetic_gestures(tmp_path_factory.mktemp("gestures") / "synthetic_dvsgesture", seed=0, **SMALL)


@pytest.fixture(scope="module")
def train(data_dir):
    return GestureFrames(data_dir, "train")


@pytest.fixture(scope="module")
def test_set(data_dir):
    return GestureFrames(data_dir, "test")


def whole(frames, i):
    """Every frame of recording i."""
    return frames.window(i, 0, int(frames.n_frames[i]))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the internet, or tonic's download, fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(tonic.datasets.DVSGesture, "download", refuse)


def test_synthetic_set_has_tonics_layout_and_says_synthetic(data_dir, tmp_path, no_network):
    base = data_dir / "DVSGesture"
    assert is_synthetic(data_dir) and not is_synthetic(tmp_path)
    assert "NOT the IBM DVS Gesture" in (base / "SYNTHETIC.txt").read_text()
    for name, users in (("ibmGestureTrain", range(1, 6)), ("ibmGestureTest", range(24, 29))):
        with tarfile.open(base / f"{name}.tar.gz") as tar:   # a valid archive holding only a README
            (member,) = tar.getmembers()
            assert "SYNTHETIC" in tar.extractfile(member).read().decode()
        folders = sorted(p.name for p in (base / name).iterdir())
        assert folders == [f"user{u:02d}_synthetic{k}" for u in users for k in (1, 2)]
        assert sorted(p.name for p in (base / name / folders[0]).iterdir()) == sorted(f"{c}.npy" for c in range(11))
    events = np.load(base / "ibmGestureTrain" / "user01_synthetic1" / "3.npy")
    assert events.dtype == np.float64 and events.shape[1] == 4
    assert events[:, :2].min() >= 0 and events[:, :2].max() <= 127 and set(np.unique(events[:, 2])) == {0.0, 1.0}
    assert np.all(np.diff(events[:, 3]) >= 0) and 1849 <= events[-1, 3] - events[0, 3] <= 1950
    raw = tonic.datasets.DVSGesture(save_to=str(data_dir), train=False)   # tonic itself accepts it offline
    assert len(raw) == 110 and sorted(set(raw.users)) == list(range(24, 29))


def test_synthetic_writer_refuses_real_data_and_too_small_sets(tmp_path):
    (tmp_path / "DVSGesture").mkdir()
    (tmp_path / "DVSGesture" / "ibmGestureTrain.tar.gz").write_bytes(b"real")
    with pytest.raises(ConfigError, match="not synthetic"):
        write_synthetic_gestures(tmp_path)
    with pytest.raises(ConfigError, match="100 files"):
        write_synthetic_gestures(tmp_path / "new", lightings=1)   # 6 test users x 11 = 66 files


def test_samples_have_the_paper_shapes_and_every_class(train, test_set):
    assert len(train) == len(test_set) == 110
    frames = train.window(0, 100, 500)
    assert frames.shape == (500, 2, 32, 32) and frames.dtype == np.float32
    for data, users in ((train, range(1, 6)), (test_set, range(24, 29))):
        assert np.array_equal(np.bincount(data.labels), np.full(11, 10))
        assert sorted(set(data.users.tolist())) == list(users)
    samples = GestureSamples(train, test_set)
    for index in (0, 5, 17):   # the study's samples: flat frames of the test window
        x, y = samples.test_sample(index, 1800)
        assert x.shape == (1800, 2 * 32 * 32) and y == test_set.labels[samples.test_order[index]]
        assert x.sum() > 500                                   # ~1000 events/s reach the window


def test_frames_are_tonics_events_pooled_to_32x32_in_1ms_bins(data_dir, test_set):
    for i in (0, 57):
        events = np.load(data_dir / "DVSGesture" / test_set.files[i])
        t = (events[:, 3] - events[0, 3]).astype(int)
        # tonic's time windows are half-open, so with ms timestamps the events of the last ms fall out
        keep = t < t[-1]
        expected = np.zeros((t[-1], 2, 32, 32))
        x, y, p = (events[keep, :3].astype(int).T)
        np.add.at(expected, (t[keep], p, y // 4, x // 4), 1)
        assert np.array_equal(whole(test_set, i), expected)
        assert test_set.labels[i] == int(test_set.files[i].split("/")[-1][:-4])


def test_test_window_is_the_start_of_the_recording_zero_padded(data_dir, test_set):
    samples = GestureSamples(test_set, test_set)
    for index in range(0, 110, 10):
        i = samples.test_order[index]
        assert test_set.n_frames[i] >= 1800
        x, _ = samples.test_sample(index, 1800)
        assert np.array_equal(x, whole(test_set, i)[:1800].reshape(1800, -1))
    longer = GestureFrames(data_dir, "test", GesturePreprocessing(test_window_ms=2500.0))
    assert longer.from_cache                              # window lengths do not change the cache
    frames, n = longer.window(3, 0, 2500), longer.n_frames[3]
    assert frames.shape == (2500, 2, 32, 32) and n < 2500
    assert np.array_equal(frames[:n], whole(test_set, 3)) and not frames[n:].any()


def test_training_windows_start_where_the_sample_seed_says(train, test_set):
    samples = GestureSamples(train, test_set)
    starts = []
    for i, seed in ((0, 0), (1, 5), (42, 1_000_003), (107, 12345)):
        start = random_window_start(train.n_frames[i], 200, seed)
        x, label = samples.train_sample(i, 200, seed)        # the study's per-sample seed
        assert x.shape == (200, 2 * 32 * 32) and label == train.labels[i]
        assert np.array_equal(x, train.window(i, start, 200).reshape(200, -1))
        assert np.array_equal(samples.train_sample(i, 200, seed)[0], x)   # the same seed, the same window
        starts.append(start)
    assert len(set(starts)) > 1 and 0 <= min(starts) and max(starts) <= min(train.n_frames) - 200
    assert len({random_window_start(train.n_frames[0], 200, seed) for seed in range(20)}) > 5


def test_binary_frames_clip_the_counts(data_dir, test_set):
    binary = GestureFrames(data_dir, "test", GesturePreprocessing(frames="binary"))
    counts, clipped = test_set.window(8, 0, 1800), binary.window(8, 0, 1800)
    assert counts.max() > 1                                # so the two options really differ
    assert np.array_equal(clipped, (counts > 0).astype(np.float32))


@pytest.mark.parametrize("options, names", [
    (dict(frames="spikes"), ["frames", "'counts'", "'binary'"]),
    (dict(downsample=3), ["downsample", "128"]),
    (dict(train_window_ms=0), ["train_window_ms"]),
    (dict(dt_ms=-1.0), ["dt_ms"]),
])
def test_bad_preprocessing_is_a_config_error(options, names):
    with pytest.raises(ConfigError) as err:
        GesturePreprocessing(**options)
    assert all(name in str(err.value) for name in names)


def test_cache_is_written_then_read_without_rebinning(data_dir, test_set, monkeypatch):
    assert test_set.cache_path.is_file() and test_set.cache_path.parent == data_dir / "frames_cache"
    monkeypatch.setattr(tonic.transforms.ToFrame, "__call__", lambda *a: pytest.fail("binned again"))
    again = GestureFrames(data_dir, "test")
    assert again.from_cache and again.cache_path == test_set.cache_path
    assert all(np.array_equal(whole(again, i), whole(test_set, i)) for i in range(0, 110, 7))


def test_first_load_works_offline_into_a_given_cache_dir(data_dir, test_set, tmp_path, no_network):
    fresh = GestureFrames(data_dir, "test", cache_dir=tmp_path / "cache")
    assert not fresh.from_cache and fresh.cache_path.parent == tmp_path / "cache" and fresh.cache_path.is_file()
    assert fresh.files == test_set.files
    assert all(np.array_equal(whole(fresh, i), whole(test_set, i)) for i in range(0, 110, 9))


def _too_few_files(path, source):
    (path / "DVSGesture" / "ibmGestureTrain").mkdir(parents=True)
    (path / "DVSGesture" / "ibmGestureTrain.tar.gz").touch()
    shutil.copytree(source / "DVSGesture" / "ibmGestureTrain" / "user01_synthetic1",
                    path / "DVSGesture" / "ibmGestureTrain" / "user01_synthetic1")


@pytest.mark.parametrize("case, missing", [
    ("nonexistent", "does not exist"),
    ("empty", "no DVSGesture/ folder"),
    ("no archive", "ibmGestureTrain.tar.gz is missing"),
    ("too few files", "holds 11 .npy files; tonic needs at least 100"),
])
def test_missing_data_is_one_config_error_with_the_layout(case, missing, data_dir, tmp_path, no_network):
    path = tmp_path / "data"
    if case == "empty":
        path.mkdir()
    elif case == "no archive":
        (path / "DVSGesture" / "ibmGestureTrain").mkdir(parents=True)
    elif case == "too few files":
        _too_few_files(path, data_dir)
    with pytest.raises(ConfigError) as err:
        GestureFrames(path, "train")
    message = str(err.value)
    for part in (f"data_dir={str(path)!r}", missing, "DVSGesture/", "ibmGestureTrain.tar.gz",
                 "user01_fluorescent/0.npy", "--download", "synthetic"):
        assert part in message, part


def test_each_split_is_checked_on_its_own(data_dir, tmp_path):
    only_test = tmp_path / "only_test"
    shutil.copytree(data_dir / "DVSGesture", only_test / "DVSGesture",
                    ignore=shutil.ignore_patterns("ibmGestureTrain*", "frames_cache"))
    check_data_dir(only_test, "test")
    with pytest.raises(ConfigError, match="ibmGestureTrain.tar.gz is missing"):
        check_data_dir(only_test, "train")


def test_validation_recordings_come_from_held_out_training_users(train, test_set):
    users = np.unique(train.users)
    samples = GestureSamples(train, test_set, validation_users=1)
    held_out = train.users[samples.validation_recordings]
    assert set(held_out) == {users[-1]} and users[-1] not in set(train.users[samples.train_recordings])
    assert samples.n_train + samples.n_validation == len(train) and samples.n_validation > 0
    x, label = samples.validation_sample(0, 100)
    i = samples.validation_recordings[0]
    assert label == train.labels[i] and np.array_equal(x, train.window(i, 0, 100).reshape(100, -1))
    with pytest.raises(ConfigError, match="validation_users"):
        GestureSamples(train, test_set, validation_users=len(users))


def test_missing_tonic_names_the_extra(data_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tonic", None)   # `import tonic` now fails
    with pytest.raises(ConfigError, match=r"pip install 'brian-decolle\[dvs\]'"):
        GestureFrames(data_dir, "test", cache_dir=tmp_path / "cache")
