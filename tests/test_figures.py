"""The classification figures and the package's draw/main, from a hand-made output folder (no
Brian2 run): every figure function returns a Figure, a silent layer 1 is said so, importing
chooses no backend, and a folder that is not a study's gives a ConfigError naming what it lacks."""
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest
from brian_decolle.figures import classification, draw, figures, main
from matplotlib.figure import Figure

from brian_decolle.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ["accuracy", "error", "train", "confusion", "kernels", "weights", "rates", "raster", "membrane", "readouts",
           "input"]
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
    (out / "config.json").write_text(json.dumps({"study": "mnist", "network": {
        "input_shape": list(SHAPE), "dt_ms": 1.0, "burnin_ms": 5.0}}))
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
             layer1_units=np.arange(8) * 7, layer1_random_spikes=spikes * (rng.random((STEPS, 8)) < 0.5),
             layer1_random_units=np.array([1, 5, 9, 30, 41, 60, 77, 100]),
             layer1_u=-np.abs(rng.normal(size=(STEPS, 3))) - 0.1, layer1_u_units=np.array([18, 54, 90]))
    return out


def _with_sample(out, **changed):
    """Rewrite test_sample.npz with some keys changed (None: dropped, as in an older folder)."""
    with np.load(out / "test_sample.npz") as f:
        sample = {k: f[k] for k in f.files}
    sample.update(changed)
    np.savez(out / "test_sample.npz", **{k: v for k, v in sample.items() if v is not None})


def texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


@pytest.mark.parametrize("silent", [True, False], ids=["synthetic, silent layer 1", "real, spiking layer 1"])
def test_every_figure_is_a_figure_and_a_silent_layer_1_is_named(tmp_path, silent):
    synthetic = silent
    out = write_folder(tmp_path / "run", silent, np.random.default_rng(3), synthetic)
    drawn = classification.figures(out, SHAPE)
    assert list(drawn) == FIGURES
    assert all(isinstance(fig, Figure) for fig in drawn.values())
    seen = {stem: texts(fig) for stem, fig in drawn.items()}
    for stem in FIGURES:
        assert any("Poisson MNIST" in t for t in seen[stem]), stem
        assert any("SYNTHETIC" in t for t in seen[stem]) == synthetic, stem
    for stem in ("raster", "membrane"):
        assert any(classification.SILENT_TITLE in t for t in seen[stem]) == silent, stem
    assert any("train, readout fit online" in t for t in seen["train"])
    assert not any("accuracy" in t for t in seen["train"])
    assert any("chance" in t for t in seen["accuracy"]) and any("final 12" in t for t in seen["accuracy"])
    assert any("paper" in t for t in seen["accuracy"]) != synthetic   # no paper value for synthetic data
    assert sum("predicts class" in t and "burn-in" in t for t in seen["readouts"]) == 3
    assert any("no biases" in t for t in seen["weights"])   # layer 3 has none


def test_raster_shows_the_most_active_and_random_units_and_says_when_a_panel_is_silent(tmp_path):
    out = write_folder(tmp_path / "run", False, np.random.default_rng(11))
    _with_sample(out, layer1_random_spikes=np.zeros((STEPS, 8)))
    fig = classification.raster(classification.load(out))
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["8 most active layer-1 units", "8 random layer-1 units"]
    assert [len(ax.get_yticks()) for ax in axes] == [8, 8]
    assert [t.get_text() for t in axes[0].texts] == []
    assert [t.get_text() for t in axes[1].texts] == [
        "none of the 8 randomly chosen layer-1 units spiked in this sample"]
    assert "1 (0)" in [label.get_text() for label in axes[1].get_yticklabels()]   # 'unit (spikes)'
    assert not any(classification.SILENT_TITLE in t for t in texts(fig))
    silent = classification.raster(classification.load(write_folder(tmp_path / "silent", True,
                                                                    np.random.default_rng(12))))
    assert all(len(ax.texts) == 1 for ax in silent.get_axes()), "a silent panel says so"
    _with_sample(out, layer1_random_spikes=None, layer1_random_units=None)   # an older folder
    older = classification.raster(classification.load(out))
    assert [ax.get_title() for ax in older.get_axes()] == ["8 most active layer-1 units"]


def test_each_figure_function_returns_a_figure_and_saves_nothing(tmp_path):
    out = write_folder(tmp_path / "run", False, np.random.default_rng(6))
    before = sorted(out.iterdir())
    run = classification.load(out)
    for stem, function in classification.FIGURES:
        assert isinstance(function(run), Figure), stem
    assert sorted(out.iterdir()) == before


def test_plot_all_saves_pngs_with_the_signature_the_studies_call(tmp_path):
    out = write_folder(tmp_path / "run", False, np.random.default_rng(7))
    paths = classification.plot_all(out, SHAPE)
    assert paths == [out / f"{stem}.png" for stem in FIGURES]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


def test_a_folder_without_the_newer_files_gives_the_figures_it_can(tmp_path):
    out = write_folder(tmp_path / "old", False, np.random.default_rng(4))
    for name in ("predictions.npz", "weights.npz", "config.json"):
        (out / name).unlink()
    summary = json.loads((out / "summary.json").read_text())
    summary["health"] = [{"training_samples": h["training_samples"], "layers": None} for h in summary["health"]]
    (out / "summary.json").write_text(json.dumps(summary))
    assert list(classification.figures(out)) == [s for s in FIGURES
                                                 if s not in ("confusion", "kernels", "weights", "rates")]
    with pytest.raises(ConfigError, match="predictions.npz"):
        classification.confusion(classification.load(out))


def test_draw_reads_the_study_from_config_json(tmp_path):
    out = write_folder(tmp_path / "run", True, np.random.default_rng(8))
    assert list(figures(out)) == FIGURES
    assert draw(out) == [out / f"{stem}.png" for stem in FIGURES]
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "study": "dvs_gesture"}))
    assert [p.name for p in draw(out)] == [f"{stem}.png" for stem in FIGURES]


@pytest.mark.parametrize("config, says", [
    (None, "holds no config.json"),
    ({"study": "weather"}, "study='weather'"),
    ({"network": {}}, "study=None"),
    ("[1, 2]", "not a JSON object"),
    ({"study": "mnist"}, "holds no summary.json"),
], ids=["no config.json", "unknown study", "no study key", "not an object", "no summary.json"])
def test_draw_refuses_a_folder_that_is_not_a_finished_run(tmp_path, config, says):
    out = tmp_path / "not_a_run"
    out.mkdir()
    if config is not None:
        (out / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    with pytest.raises(ConfigError, match="not_a_run") as refused:
        draw(out)
    assert says in str(refused.value)


def test_draw_refuses_a_path_that_is_no_folder(tmp_path):
    with pytest.raises(ConfigError, match="missing_run is not a folder"):
        draw(tmp_path / "missing_run")


def test_main_prints_the_paths_and_returns_2_on_a_bad_folder(tmp_path, capsys):
    out = write_folder(tmp_path / "run", True, np.random.default_rng(5))
    assert main([str(out)]) == 0
    assert [Path(line).name for line in capsys.readouterr().out.split()] == [f"{s}.png" for s in FIGURES]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(out), str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(empty) in err and "config.json" in err and "Traceback" not in err


def test_importing_and_drawing_choose_no_backend_and_need_no_pyplot(tmp_path):
    """A notebook keeps its backend: the figures neither choose one nor need pyplot. pyplot is
    made unimportable (Brian2's `from pylab import *`, reached through brian_decolle's own
    imports, then falls back to numpy), so that a pyplot import in the figures would fail."""
    out = write_folder(tmp_path / "run", False, np.random.default_rng(9))
    check = f"""
import sys
sys.modules["matplotlib.pyplot"] = None
import matplotlib
import brian_decolle.figures, brian_decolle.figures.classification, brian_decolle.figures.regression
assert matplotlib.rcParams._get_backend_or_none() is None, "importing chose a backend"
brian_decolle.figures.draw({str(out)!r})
assert matplotlib.rcParams._get_backend_or_none() is None, "drawing chose a backend"
"""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    done = subprocess.run([sys.executable, "-c", check], check=False, capture_output=True, text=True, timeout=300,
                          env=env)
    assert done.returncode == 0, done.stderr
    assert len(list(out.glob("*.png"))) == len(FIGURES)


def test_the_module_as_a_script_draws_a_folder(tmp_path):
    """`python figures/classification.py OUT`, the command the README gives."""
    out = write_folder(tmp_path / "run", True, np.random.default_rng(10))
    done = subprocess.run([sys.executable, str(ROOT / "figures" / "classification.py"), str(out)],
                          check=False, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert [Path(line).name for line in done.stdout.split()] == [f"{s}.png" for s in FIGURES]
