"""The installed `brian-decolle` command: sub-commands, provenance in config.json, a re-run from
config.json that repeats the result, and figures drawn again from an output folder."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brian_decolle import __version__, commands

COMMAND = Path(sys.executable).parent / "brian-decolle"   # the console script pip installed
SMALL = ["--device", "runtime", "--codegen", "numpy", "--epochs", "2", "--layer-sizes", "24", "24", "24"]


def _run(*argv, **kwargs):
    return subprocess.run([str(COMMAND), *map(str, argv)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "MPLBACKEND": "Agg"}, **kwargs)


def test_the_console_script_lists_its_commands_and_version():
    assert COMMAND.is_file(), "pip install -e . makes the console script"
    shown = _run("--help")
    assert shown.returncode == 0
    for name in ("regression", "mnist", "dvs-gesture", "figures"):
        assert name in shown.stdout
    assert _run("--version").stdout.strip() == f"brian-decolle {__version__}" != "brian-decolle unknown"
    unknown = _run("train")
    assert unknown.returncode == 2 and "unknown command 'train'" in unknown.stderr
    module = subprocess.run([sys.executable, "-m", "brian_decolle", "--help"], capture_output=True, text=True)
    assert module.returncode == 0 and module.stdout == shown.stdout


@pytest.mark.parametrize("name", list(commands.STUDIES))
def test_every_study_help_shows_its_defaults(name):
    shown = _run(name, "--help")
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    for fragment in ("(default: cpp_standalone)", "(default: float64)", "--optimiser", "--network", "--config",
                     "--overwrite"):
        assert fragment in text, fragment
    study = commands.STUDIES[name]
    assert f"(default: {study.preset(study.presets[0]).network.optimiser})" in text


def test_config_json_reruns_the_same_experiment_and_figures_redraw(tmp_path):
    first = _run("regression", *SMALL, "--seed", "3", "--out", tmp_path / "first", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    record = json.loads((tmp_path / "first" / "config.json").read_text())
    assert record["study"] == "regression" and record["device"] == "runtime" and record["precision"] == "float64"
    assert record["network"]["seed"] == 3 and record["network"]["layer_sizes"] == [24, 24, 24]
    assert record["versions"]["brian-decolle"] == __version__ and "brian2" in record["versions"]
    assert "regression" in record["command_line"] and record["date"].startswith("20")

    again = _run("regression", "--config", tmp_path / "first" / "config.json", "--out", tmp_path / "again")
    assert again.returncode == 0, again.stderr[-2000:]
    rerun = json.loads((tmp_path / "again" / "config.json").read_text())
    for key in ("network", "task", "device", "codegen_target", "precision", "threads"):
        assert rerun[key] == record[key], key
    nmse = [[layer["nmse_last_epoch"] for layer in json.loads((tmp_path / run / "summary.json").read_text())["layers"]]
            for run in ("first", "again")]
    assert nmse[0] == nmse[1]

    changed = _run("regression", "--config", tmp_path / "first" / "config.json", "--epochs", "1", "--out",
                   tmp_path / "changed")
    assert changed.returncode == 0
    assert json.loads((tmp_path / "changed" / "config.json").read_text())["task"]["epochs"] == 1

    for png in (tmp_path / "first").glob("*.png"):
        png.unlink()
    drawn = _run("figures", tmp_path / "first")
    assert drawn.returncode == 0, drawn.stderr
    assert sorted(p.name for p in (tmp_path / "first").glob("*.png")) == \
        ["learning_curves.png", "raster.png", "readouts.png", "states.png"]


MNIST_TINY = ["--network", "small", "--device", "runtime", "--codegen", "numpy", "--n-train", "20", "--n-test", "10",
              "--n-validation", "0", "--train-samples", "4", "--eval-every", "100", "--eval-samples", "2",
              "--train-ms", "60", "--test-ms", "80", "--burnin-ms", "10", "--init", "uniform"]


def test_evaluate_repeats_the_final_test_without_plasticity(tmp_path):
    out = tmp_path / "mnist"
    trained = _run("mnist", *MNIST_TINY, "--out", out)
    assert trained.returncode == 0, trained.stderr[-2000:]
    final = json.loads((out / "summary.json").read_text())["final_test"]

    tested = _run("evaluate", out, "--device", "runtime", "--codegen", "numpy")
    assert tested.returncode == 0, tested.stderr[-2000:]
    assert "network for testing only (no plasticity)" in tested.stdout + tested.stderr
    evaluation = json.loads((out / "evaluation.json").read_text())
    # the same learned weights on the same test samples: the same accuracy as the run's own final test
    assert evaluation["n_test"] == final["n_test"] == 10
    assert evaluation["accuracy_per_layer"] == final["accuracy_per_layer"]
    import numpy as np
    with np.load(out / "predictions.npz") as run, np.load(out / "evaluation.npz") as again:
        np.testing.assert_array_equal(run["predictions"], again["predictions"])

    assert "already holds evaluation.json" in _run("evaluate", out, "--device", "runtime", "--codegen", "numpy").stderr
    part = _run("evaluate", out, "--device", "runtime", "--codegen", "numpy", "--state", "checkpoint", "--n-test", "4", "--overwrite")
    assert part.returncode == 0, part.stderr[-2000:]
    assert json.loads((out / "evaluation.json").read_text())["n_test"] == 4
    too_many = _run("evaluate", out, "--device", "runtime", "--codegen", "numpy", "--n-test", "11", "--overwrite")
    assert too_many.returncode == 2 and "n_test=11 must lie in 1..10" in too_many.stderr


def test_evaluate_refuses_folders_it_cannot_test(tmp_path):
    empty = _run("evaluate", tmp_path)
    assert empty.returncode == 2 and "is not a readable config.json" in empty.stderr
    (tmp_path / "config.json").write_text(json.dumps({"study": "regression"}))
    assert "evaluate tests classification runs" in _run("evaluate", tmp_path).stderr
