"""The classification figures, drawn from a hand-made output folder (no Brian2 run): every
figure is written, a silent layer 1 is said so, and the command line re-plots a folder."""
import json
import subprocess
import sys
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for figures/
from figures import classification  # noqa: E402

FIGURES = ["accuracy.png", "error.png", "train.png", "confusion.png", "kernels.png", "weights.png", "rates.png",
           "raster.png", "membrane.png", "readouts.png", "input.png"]
SHAPE = (2, 6, 6)                      # input; conv layer 1: 3 channels of 3x3 kernels, padding 1
N_CLASSES, STEPS, N_TEST = 4, 30, 12
WEIGHTS = {"layer1_w": (3, 2, 3, 3), "layer1_b": (3,), "layer2_w": (10, 108), "layer2_b": (10,),
           "layer3_w": (N_CLASSES, 10)}   # layer 3 without biases
PERCENTILES = (0, 5, 25, 50, 75, 95, 100)


def _health(rng, samples):
    layers = []
    for k in (1, 2, 3):
        w = rng.normal(size=WEIGHTS[f"layer{k}_w"])
        b = rng.normal(size=WEIGHTS[f"layer{k}_b"]) if f"layer{k}_b" in WEIGHTS else None
        layers.append({"layer": k, "rate_hz": float(rng.uniform(0, 50)), "silent_fraction": None if k == 3 else 0.2,
                       "u_mean": -0.5, "u_std": 1.0, "weight_range": [float(w.min()), float(w.max())],
                       "bias_range": None if b is None else [float(b.min()), float(b.max())],
                       "weight_percentiles": np.percentile(w, PERCENTILES).tolist(),
                       "bias_percentiles": None if b is None else np.percentile(b, PERCENTILES).tolist()})
    return {"training_samples": samples, "layers": layers}


def write_folder(out, silent, rng, synthetic=True):
    """The files a classification run writes, with the keys training.py and results.py give them."""
    out.mkdir()
    samples, n_test = np.array([0, 1000, 2000, 4000]), np.array([6, 6, 6, N_TEST])
    accuracy = rng.uniform(0.2, 0.9, (len(samples), 3))
    health = [_health(rng, int(s)) for s in samples]
    summary = {"task": "Poisson MNIST", "data": "digits", "synthetic_data": synthetic, "device": "runtime",
               "n_classes": N_CLASSES, "chance_accuracy": 1 / N_CLASSES, "paper_accuracy": None if synthetic else 0.988,
               "final_test": {"n_test": N_TEST, "accuracy_per_layer": accuracy[-1].tolist()},
               "evaluations": [{"training_samples": int(s), "n_test": int(n), "accuracy_per_layer": a.tolist()}
                               for s, n, a in zip(samples, n_test, accuracy)],
               "health": health, "initialisation": None}
    (out / "summary.json").write_text(json.dumps(summary))
    (out / "config.json").write_text(json.dumps({"network": {"input_shape": list(SHAPE), "dt_ms": 1.0,
                                                             "burnin_ms": 5.0}}))
    runs = np.arange(250, 4001, 250)
    np.savez(out / "results.npz", eval_samples=samples, eval_accuracy=accuracy, eval_n_test=n_test,
             train_samples=runs, train_fit=rng.uniform(0, 1, (len(runs), 3)),
             train_lr=np.where(runs <= 2000, 1e-3, 2e-4),
             eval_rate_hz=np.array([[h["rate_hz"] for h in e["layers"]] for e in health]),
             eval_silent_fraction=np.array([[0.2, 0.2, np.nan]] * len(samples)),
             data=np.array(("SYNTHETIC " if synthetic else "") + "digits"))
    np.savez(out / "predictions.npz", predictions=rng.integers(0, N_CLASSES, (3, N_TEST)),
             labels=np.arange(N_TEST) % N_CLASSES)
    np.savez(out / "weights.npz", **{name: rng.normal(size=shape) for name, shape in WEIGHTS.items()})
    spikes = np.zeros((STEPS, 8)) if silent else (rng.random((STEPS, 8)) < 0.2).astype(float)
    np.savez(out / "test_sample.npz", input=(rng.random((STEPS, int(np.prod(SHAPE)))) < 0.1).astype(float),
             label=np.array(2), readout_y=rng.normal(size=(3, STEPS, N_CLASSES)), layer1_spikes=spikes,
             layer1_units=np.arange(8) * 7, layer1_u=-np.abs(rng.normal(size=(STEPS, 3))) - 0.1,
             layer1_u_units=np.array([18, 54, 90]))
    return out


@pytest.fixture
def texts(monkeypatch):
    """Every text of every figure saved, by file name."""
    seen = {}
    save = classification._save

    def recording_save(fig, path):
        seen[Path(path).name] = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
        return save(fig, path)

    monkeypatch.setattr(classification, "_save", recording_save)
    return seen


@pytest.mark.parametrize("silent", [True, False], ids=["synthetic, silent layer 1", "real, spiking layer 1"])
def test_every_figure_is_written_and_a_silent_layer_1_is_named(tmp_path, texts, silent):
    synthetic = silent
    out = write_folder(tmp_path / "run", silent, np.random.default_rng(3), synthetic)
    paths = classification.plot_all(out, SHAPE)
    assert [Path(p).name for p in paths] == FIGURES
    assert all(Path(p).stat().st_size > 0 for p in paths)
    for name in FIGURES:
        assert any("Poisson MNIST" in t for t in texts[name]), name
        assert any("SYNTHETIC" in t for t in texts[name]) == synthetic, name
    for name in ("raster.png", "membrane.png"):
        assert any(classification.SILENT_TITLE in t for t in texts[name]) == silent, name
    assert any("train, readout fit online" in t for t in texts["train.png"])
    assert not any("accuracy" in t for t in texts["train.png"])
    assert any("chance" in t for t in texts["accuracy.png"]) and any("final 12" in t for t in texts["accuracy.png"])
    assert any("paper" in t for t in texts["accuracy.png"]) != synthetic   # no paper value for synthetic data
    assert sum("predicts class" in t and "burn-in" in t for t in texts["readouts.png"]) == 3
    assert any("no biases" in t for t in texts["weights.png"])   # layer 3 has none


def test_a_folder_without_the_newer_files_gives_the_figures_it_can(tmp_path):
    out = write_folder(tmp_path / "old", False, np.random.default_rng(4))
    for name in ("predictions.npz", "weights.npz", "config.json"):
        (out / name).unlink()
    summary = json.loads((out / "summary.json").read_text())
    summary["health"] = [{"training_samples": h["training_samples"], "layers": None} for h in summary["health"]]
    (out / "summary.json").write_text(json.dumps(summary))
    names = [Path(p).name for p in classification.plot_all(out)]
    assert names == [n for n in FIGURES if n not in ("confusion.png", "kernels.png", "weights.png", "rates.png")]


def test_command_line_replots_a_folder_and_refuses_one_without_summary(tmp_path):
    out = write_folder(tmp_path / "run", True, np.random.default_rng(5))
    script = str(ROOT / "figures" / "classification.py")
    done = subprocess.run([sys.executable, script, str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [Path(line).name for line in done.stdout.split()] == FIGURES
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = subprocess.run([sys.executable, script, str(empty)], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
    assert refused.returncode != 0 and "summary.json" in refused.stderr
