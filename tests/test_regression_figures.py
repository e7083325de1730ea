"""The regression figures from a hand-made output folder with the files and keys
brian_decolle/regression.py writes (no Brian2 run)."""
import json

import matplotlib.text
import numpy as np
import pytest
from brian_decolle.figures import draw, regression
from matplotlib.figure import Figure

from brian_decolle.config import ConfigError

STEMS = ["states", "readouts", "learning_curves", "raster"]
STEPS, EPOCHS, N_INPUTS, SIZES, N_RECORDED = 40, 3, 12, (10, 8, 6), 4


def write_folder(out, dt_ms=1.0, rng=None):
    """config.json, summary.json and results.npz as regression.run writes them."""
    rng = rng or np.random.default_rng(0)
    out.mkdir()
    reps = EPOCHS + 1   # the training epochs, then one presentation with learning rate 0
    (out / "config.json").write_text(json.dumps({"study": "regression", "task": {"epochs": EPOCHS},
                                                 "network": {"dt_ms": dt_ms, "layer_sizes": list(SIZES)}}))
    (out / "summary.json").write_text(json.dumps({
        "task": "regression with a frozen synthetic Poisson spike train (paper Sec. 4.1)", "synthetic_input": True,
        "device": "runtime", "epochs": EPOCHS, "layers": [{"layer": k} for k in (1, 2, 3)]}))
    arrays = {"input_spikes": (rng.random((STEPS, N_INPUTS)) < 0.1).astype(float), "dt_ms": np.array(dt_ms),
              "recorded_neurons": np.arange(N_RECORDED), "data": np.array("synthetic Poisson input"),
              "input_p": rng.random((STEPS, N_RECORDED))}
    for k, size in zip((1, 2, 3), SIZES):
        spikes = np.zeros((STEPS, size))
        spikes[::10, 0] = 1   # 4 spikes in 40 steps of one of `size` units
        arrays.update({f"layer{k}_y": rng.normal(size=(reps, STEPS)), f"layer{k}_target": np.sin(np.arange(STEPS)),
                       f"layer{k}_loss": rng.random((reps, STEPS)), f"layer{k}_nmse": rng.random(reps),
                       f"layer{k}_spikes": spikes})
        for var in ("u", "p", "sg", "m", "err"):
            arrays[f"layer{k}_{var}"] = rng.normal(size=(STEPS, N_RECORDED))
    np.savez_compressed(out / "results.npz", **arrays)
    return out


def texts(fig):
    return [t.get_text() for t in fig.findobj(matplotlib.text.Text)]


def test_every_figure_function_returns_a_labelled_figure_and_saves_nothing(tmp_path):
    out = write_folder(tmp_path / "run")
    run = regression.load(out)
    for stem, function in regression.FIGURES:
        fig = function(run)
        assert isinstance(fig, Figure), stem
        assert any("SYNTHETIC" in t for t in texts(fig)), stem
    assert [stem for stem, _ in regression.FIGURES] == STEMS
    assert not list(out.glob("*.png"))


def test_rates_and_time_follow_the_recorded_time_step(tmp_path):
    run = regression.load(write_folder(tmp_path / "run", dt_ms=0.5))
    fig = regression.raster(run)
    rate = 4 / (STEPS * SIZES[0]) * 1000 / 0.5
    assert any(f"{rate:.1f} Hz" in t for t in texts(fig))
    assert fig.axes[-1].get_xlim() == (0, STEPS * 0.5)


def test_plot_all_and_draw_write_the_pngs_the_study_always_wrote(tmp_path):
    out = write_folder(tmp_path / "run")
    assert list(regression.figures(out)) == STEMS
    paths = regression.plot_all(out)
    assert paths == [out / f"{stem}.png" for stem in STEMS]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)
    assert draw(out) == paths


@pytest.mark.parametrize("remove, says", [("results.npz", "holds no results.npz"),
                                          ("summary.json", "holds no summary.json"),
                                          ("layer2_sg", "lacks layer2_sg")])
def test_a_missing_file_or_key_is_named(tmp_path, remove, says):
    out = write_folder(tmp_path / "broken")
    if remove.endswith((".npz", ".json")):
        (out / remove).unlink()
    else:
        with np.load(out / "results.npz") as f:
            arrays = {k: f[k] for k in f.files if k != remove}
        np.savez(out / "results.npz", **arrays)
    with pytest.raises(ConfigError, match="broken") as refused:
        draw(out)
    assert says in str(refused.value)
