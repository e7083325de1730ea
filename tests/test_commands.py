"""The installed `brian-decolle` command: sub-commands, provenance in config.json, a re-run from
config.json that repeats the result, and figures drawn again from an output folder."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from brian_decolle import __version__, commands

COMMAND = Path(sys.executable).parent / "brian-decolle"   # the console script pip installed
SMALL = ["--device", "runtime", "--codegen", "numpy", "--epochs", "2", "--layer-sizes", "24", "24", "24"]


def _run(*argv, **kwargs):
    return subprocess.run([str(COMMAND), *map(str, argv)], capture_output=True, text=True, timeout=600,
                          env={"MPLBACKEND": "Agg", "PATH": str(COMMAND.parent)}, **kwargs)


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
