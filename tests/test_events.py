"""Any event dataset: a folder of the user's own recordings in the documented layout (a tiny
SYNTHETIC one is written here), and tonic dataset classes by name; bad files are refused clearly."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tonic", reason="event data need tonic: pip install 'brian-decolle[dvs]'")

from brian_decolle import ConfigError  # noqa: E402
from brian_decolle.data.events import (  # noqa: E402
    EventFolder,
    FolderFrames,
    read_layout,
    read_recording,
    tonic_dataset,
)
from brian_decolle.data.gestures import GesturePreprocessing  # noqa: E402

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

SENSOR = (8, 6, 2)   # width, height, polarities
CLASSES = ("left", "right")


def _recording(rng, label, duration_us=120_000, n=300):
    """Events on the left (label 0) or right (label 1) half of the sensor, in time order."""
    x = rng.integers(0, 4, n) + 4 * label
    return np.column_stack([x, rng.integers(0, SENSOR[1], n), rng.integers(0, 2, n),
                            np.sort(rng.integers(0, duration_us, n))])


def write_folder(root: Path, n_train=6, n_test=4, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps({"sensor_size": list(SENSOR), "classes": list(CLASSES)}))
    for split, n in (("train", n_train), ("test", n_test)):
        for label, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True)
            for k in range(n):
                events = _recording(rng, label)
                if k % 2:   # both accepted forms: (N, 4) columns and tonic's structured events
                    structured = np.zeros(len(events), dtype=[("x", "i2"), ("y", "i2"), ("p", "i1"), ("t", "i8")])
                    for col, field in enumerate("xypt"):
                        structured[field] = events[:, col]
                    events = structured
                np.save(root / split / name / f"rec{k}.npy", events)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("events") / "synthetic_events")


def test_frames_are_the_events_binned_per_ms(folder, tmp_path):
    prep = GesturePreprocessing(sensor=SENSOR, downsample=1, train_window_ms=50, test_window_ms=80)
    frames = FolderFrames(folder, "test", prep, cache_dir=tmp_path)
    assert frames.n_classes == 2 and len(frames) == 8 and frames.classes == CLASSES
    assert sorted(frames.labels.tolist()) == [0] * 4 + [1] * 4
    i = 3
    events = read_recording(folder / "test" / frames.files[i], SENSOR)
    step = (events["t"] - events["t"][0]) // 1000   # tonic's frames start at the first event
    expected = np.zeros((int(step.max()) + 1, 2, SENSOR[1], SENSOR[0]))
    np.add.at(expected, (step, events["p"], events["y"], events["x"]), 1)
    got = frames.window(i, 0, int(frames.n_frames[i]))   # the whole recording
    np.testing.assert_array_equal(got[:len(expected)], expected)
    assert not got[len(expected):].any()
    again = FolderFrames(folder, "test", prep, cache_dir=tmp_path)
    assert again.from_cache and np.array_equal(again.window(i, 0, len(got)), got)


def test_study_trains_and_tests_end_to_end_on_a_folder(folder, tmp_path):
    out = tmp_path / "run"
    command = Path(sys.executable).parent / "brian-decolle"
    argv = [str(command), "events", "--data-dir", str(folder), "--device", "runtime", "--codegen", "numpy",
            "--layer-sizes", "16", "--train-samples", "8", "--train-ms", "60", "--test-ms", "100",
            "--burnin-ms", "10", "--init", "uniform", "--eval-every", "100", "--eval-samples", "2", "--out", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((out / "config.json").read_text())
    assert config["study"] == "events" and config["network"]["input_shape"] == [2, 6, 8]
    assert config["network"]["readout_sizes"] == 2 and config["synthetic_data"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_classes"] == 2 and summary["chance_accuracy"] == 0.5 and summary["synthetic_data"]
    assert summary["final_test"]["n_test"] == 8 and len(summary["final_test"]["accuracy_per_layer"]) == 1
    assert (out / "accuracy.png").is_file() and "SYNTHETIC" in summary["data"]


def _bad(root, name, events):
    path = root / name
    np.save(path, events)
    return path


@pytest.mark.parametrize("events, message", [
    (np.array([[1, 1, 0, 500], [2, 1, 0, 100]]), "not in time order"),
    (np.array([[8, 1, 0, 100]]), "x must lie in 0..7"),
    (np.array([[1, 6, 0, 100]]), "y must lie in 0..5"),
    (np.array([[1, 1, 2, 100]]), "p must lie in 0..1"),
    (np.zeros((5, 3)), "shape (5, 3)"),
    (np.zeros(4, dtype=[("x", "i2"), ("y", "i2"), ("t", "i8")]), "needs fields x, y, p, t"),
])
def test_bad_recordings_are_refused(events, message, tmp_path):
    with pytest.raises(ConfigError) as err:
        read_recording(_bad(tmp_path, "r.npy", events), SENSOR)
    assert message in str(err.value) and "r.npy" in str(err.value)


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("{", "cannot read"),
    ('{"sensor_size": [8, 6], "classes": ["a", "b"]}', "must be [width, height, polarities]"),
    ('{"sensor_size": [8, 6, 2], "classes": ["a"]}', "at least two distinct folder names"),
    ('{"sensor_size": [8, 6, 2], "classes": ["a", "b"]}', "has no recordings"),
])
def test_bad_folders_are_refused(content, message, tmp_path):
    if content is not None:
        (tmp_path / "dataset.json").write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        EventFolder(tmp_path, "train")


def test_missing_folder_and_corrupt_file(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        read_layout(tmp_path / "none")
    path = tmp_path / "r.npy"
    path.write_bytes(b"not numpy")
    with pytest.raises(ConfigError, match="is not a numpy file of events"):
        read_recording(path, SENSOR)


def test_tonic_datasets_by_name_never_download_unasked(tmp_path, monkeypatch):
    import socket
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network access attempted"))
    with pytest.raises(ConfigError, match="tonic_dataset='MNISTDVS2' is not allowed; choose one of .*'NMNIST'"):
        tonic_dataset("MNISTDVS2", tmp_path, "train")
    with pytest.raises(ConfigError, match="the train split is not in data_dir=.*pass --download"):
        tonic_dataset("NMNIST", tmp_path, "train")
