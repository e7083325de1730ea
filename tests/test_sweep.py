"""brian-decolle sweep: spec checks, task grouping, a 2-worker LocalCluster sweep, skips, failures, and
the exactness of re-running a shared compiled build with another configuration's values."""
import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brian_decolle import devices, regression, sweep
from brian_decolle.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
#: a network small enough for CI: three layers of 8, 2 epochs of 20 ms
TINY = {"network.learning": "error_triggered", "network.optimiser": "sgd", "network.layer_sizes": [8, 8, 8],
        "network.n_inputs": 6, "task.epochs": 2, "task.duration_ms": 20.0, "task.n_recorded": 2}
RUNTIME = {"device": "runtime", "codegen_target": "numpy"}


def tiny_spec(**changes) -> dict:
    return {"study": "regression", "seeds": [0, 1], "base": dict(TINY),
            "grid": {"network.error_threshold": [0.01, 0.1]}, **RUNTIME, **changes}


@pytest.mark.parametrize("change, message", [
    ({"colour": "red"}, "colour unknown; allowed: study, preset"),
    ({"study": "mnist"}, "sweeps run 'regression'"),
    ({"preset": "huge"}, "preset='huge' is not a regression preset"),
    ({"grid": {"network.lr_max": [1]}}, "names field 'network.lr_max', which the regression study lacks"),
    ({"grid": {"network.lr": []}}, "grid 'network.lr' must be a non-empty list"),
    ({"random": {"network.lr": {"low": 1.0, "high": 0.5}, "samples": 2}}, "must be finite numbers with low < high"),
    ({"random": {"network.lr": {"low": 0.0, "high": 0.5, "log": True}, "samples": 2}}, "log=true needs low > 0"),
    ({"random": {"network.lr": {"low": 0.1, "high": 0.5}}}, "random samples=0 must be a positive integer"),
    ({"seeds": []}, "seeds=[] must be a non-empty list"),
    ({"seeds": [1, 1]}, "repeats a seed"),
    ({"base": {**TINY, "network.error_threshold": 0.1}}, "network.error_threshold is set in both base and grid"),
    ({"base": {**TINY, "network.seed": 3}}, "network.seed is set in both base and seeds"),
    ({"metric": "accuracy"}, "metric='accuracy' is not a scalar of the regression summary"),
    ({"grid": {"network.dropout": [0.1, 1.5]}}, "dropout=1.5 must lie in [0, 1)"),
    ({"device": "gpu"}, "device='gpu' is not allowed"),
])
def test_bad_specs_are_refused_naming_the_key(change, message):
    with pytest.raises(ConfigError) as err:
        sweep.check_spec(tiny_spec(**change))
    assert message in str(err.value)


def test_bad_spec_on_the_command_line_exits_2_without_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('study = "regression"\n[grid]\n"network.lr" = []\n')
    done = subprocess.run([sys.executable, "-m", "brian_decolle", "sweep", str(path), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "grid 'network.lr' must be a non-empty list" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "o").exists()


def test_tasks_grid_random_and_seeds_with_stable_ids():
    spec = sweep.check_spec(tiny_spec(random={"network.lr": {"low": 0.1, "high": 10.0, "log": True}, "samples": 3,
                                              "seed": 7}, seeds=[0, 1, 2]))
    tasks = sweep.tasks(spec)
    assert len(tasks) == 2 * 3 * 3 and len({t.id for t in tasks}) == 18
    assert [t.id for t in sweep.tasks(spec)] == [t.id for t in tasks]   # stable: a re-run finds its folders
    lrs = {t.values["network.lr"] for t in tasks}
    assert len(lrs) == 3 and all(0.1 <= lr <= 10.0 for lr in lrs)
    assert {t.config.network.seed for t in tasks} == {0, 1, 2}
    assert all(t.config.network.learning == "error_triggered" and t.config.task.epochs == 2 for t in tasks)


def test_only_structure_separates_groups():
    spec = sweep.check_spec(tiny_spec(device="cpp_standalone"))
    base = sweep.compose("regression", "paper", TINY)
    key = sweep.group_key(spec, base)
    values = dict(lr=0.3, seed=4, dropout=0.0, weight_scale=(3.0, 2.0, 1.0), readout_amplitude=1.0, reg_u=0.1,
                  reg_rate=0.5, error_threshold=0.2, burnin_ms=5.0)
    same = dataclasses.replace(base, network=dataclasses.replace(base.network, **values),
                               task=dataclasses.replace(base.task, input_rate_hz=20.0, fast_hz=3.0, slow_hz=1.0))
    assert sweep.group_key(spec, same) == key
    for network in (dict(layer_sizes=(8, 8, 9)), dict(reg_rate=0.0), dict(optimiser="sgd", learning="dense")):
        other = dataclasses.replace(base, network=dataclasses.replace(base.network, **network))
        assert sweep.group_key(spec, other) != key, network
    epochs = dataclasses.replace(base, task=dataclasses.replace(base.task, epochs=3))
    assert sweep.group_key(spec, epochs) != key
    tasks = sweep.tasks(spec)
    assert len(sweep.chunks(spec, tasks, workers=2, split=False)) == 1
    assert [len(c) for _, c in sweep.chunks(spec, tasks, workers=2, split=True)] == [2, 2]


def _rows(out):
    with open(out / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_local_cluster_sweep_then_a_rerun_skips_finished_tasks(tmp_path):
    """4 tiny configurations on a 2-worker LocalCluster (runtime device); a re-run runs only what is missing."""
    out = tmp_path / "sweep"
    said = []
    summary = sweep.run_sweep(sweep.check_spec(tiny_spec()), out, workers=2, report=said.append)
    assert (summary["tasks"], summary["done"], summary["skipped"], summary["failed"]) == (4, 4, 0, 0)
    assert summary["workers"] == 2 and summary["compiles"] == 0
    rows = _rows(out)
    assert [r["status"] for r in rows] == ["done"] * 4
    assert {(float(r["network.error_threshold"]), int(r["network.seed"])) for r in rows} == {
        (0.01, 0), (0.01, 1), (0.1, 0), (0.1, 1)}
    for row in rows:
        task = out / "tasks" / row["task"]
        assert {"config.json", "summary.json", "results.npz"} <= {p.name for p in task.iterdir()}
        from_summary = json.loads((task / "summary.json").read_text())["layers"][2]["nmse_after_training_lr0"]
        assert float(row["layer3.nmse_after_training_lr0"]) == from_summary and math.isfinite(from_summary)
        assert json.loads((task / "config.json").read_text())["network"]["seed"] == int(row["network.seed"])
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["layer3_nmse_after_training_lr0_vs_network_error_threshold.png"]
    assert json.loads((out / "failures.json").read_text()) == {"failures": []}
    assert any("sweep of 4 tasks" in line for line in said)

    again = sweep.run_sweep(sweep.check_spec(tiny_spec()), out, workers=2, report=said.append)
    assert (again["done"], again["skipped"], again["chunks"]) == (0, 4, 0)   # no cluster was even started
    missing = out / "tasks" / rows[1]["task"] / "summary.json"
    missing.unlink()
    third = sweep.run_sweep(sweep.check_spec(tiny_spec()), out, workers=2, report=said.append)
    assert (third["done"], third["skipped"]) == (1, 3) and missing.is_file()
    assert [r["status"] for r in _rows(out)] == ["skipped", "done", "skipped", "skipped"]


def test_a_failed_task_is_reported_and_the_others_finish(tmp_path):
    """A user's neuron file that passes the section check but whose equations Brian2 refuses fails its task
    only; its config and error are in sweep.csv and failures.json and are printed at the end."""
    good = ROOT / "equations" / "neuron_discrete.eqs"
    broken = tmp_path / "broken.eqs"
    broken.write_text(good.read_text().replace("### model\n", "### model\nu = isyn + * r : 1 ((nonsense\n", 1))
    spec = sweep.check_spec(tiny_spec(seeds=[0], grid={"network.neuron_equations": [str(good), str(broken)]}))
    said = []
    summary = sweep.run_sweep(spec, tmp_path / "out", workers=2, report=said.append)
    assert (summary["done"], summary["failed"]) == (1, 1)
    rows = {r["network.neuron_equations"]: r for r in _rows(tmp_path / "out")}
    assert rows[str(good)]["status"] == "done" and rows[str(broken)]["status"] == "failed"
    assert rows[str(broken)]["error"] and not rows[str(good)]["error"]
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())["failures"]
    assert len(failures) == 1 and failures[0]["config"]["network"]["neuron_equations"] == str(broken)
    assert failures[0]["error"] == rows[str(broken)]["error"] and "Traceback" in failures[0]["traceback"]
    assert any(line.startswith("FAILED") and str(broken) in line for line in said)


def test_a_shared_build_rerun_equals_a_fresh_build(tmp_path):
    """cpp_standalone: one build compiled for config A, re-run with config B's values (every run-time field
    changed), writes exactly what a fresh build of B writes; a config of another structure in the chunk
    fails, saying so, instead of running the wrong code."""
    spec = sweep.check_spec({"study": "regression", "seeds": [0], "base": dict(TINY), "device": "cpp_standalone"})
    a = sweep.compose("regression", "paper", {**TINY, "network.seed": 0})
    b = dataclasses.replace(a, network=dataclasses.replace(
        a.network, seed=5, lr=0.4, dropout=0.3, weight_scale=(20.0, 6.0, 4.0), readout_amplitude=1.5, reg_u=0.05,
        reg_rate=0.03, error_threshold=0.05, burnin_ms=3.0),
        task=dataclasses.replace(a.task, input_rate_hz=90.0, fast_hz=6.0, slow_hz=3.0))
    other = dataclasses.replace(a, network=dataclasses.replace(a.network, layer_sizes=(8, 8, 7)))
    tasks = [sweep.Task(name, {}, config) for name, config in (("a", a), ("b", b), ("other", other))]
    got = sweep.run_chunk("regression", spec.target, sweep.group_key(spec, a), str(tmp_path / "build"), tasks,
                          str(tmp_path))
    assert got["compiles"] == 1 and not (tmp_path / "build").exists()
    status = {r["task"]: r for r in got["records"]}
    assert status["a"]["status"] == status["b"]["status"] == "done"
    assert status["other"]["status"] == "failed" and "structure" in status["other"]["error"]

    fresh = regression.run(b, tmp_path / "fresh", target=devices.Target(build_dir=str(tmp_path / "fresh_build")))
    shared = json.loads((tmp_path / "tasks" / "b" / "summary.json").read_text())
    assert shared["layers"] == fresh["layers"]
    assert shared["synaptic_operations_per_presentation"] == fresh["synaptic_operations_per_presentation"]
    with np.load(tmp_path / "tasks" / "b" / "results.npz") as s, np.load(tmp_path / "fresh" / "results.npz") as f:
        assert sorted(s.files) == sorted(f.files)
        for key in f.files:
            assert np.array_equal(s[key], f[key]), key
    with np.load(tmp_path / "tasks" / "a" / "results.npz") as s, np.load(tmp_path / "fresh" / "results.npz") as f:
        assert not np.array_equal(s["layer3_y"], f["layer3_y"])   # A's own run differs: B's values did arrive


def test_without_dask_a_sweep_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)   # (import distributed now raises ImportError)
    with pytest.raises(ConfigError, match=r"pip install 'brian-decolle\[sweep\]'"):
        sweep.import_distributed()


def test_the_example_spec_is_valid_and_shares_one_build():
    spec = sweep.read_spec(ROOT / "studies" / "sweep_regression.toml")
    tasks = sweep.tasks(spec)
    assert len(tasks) == 16 and spec.target.device == "cpp_standalone"
    assert all(t.config.network.learning == "error_triggered" for t in tasks)
    assert len(sweep.chunks(spec, tasks, workers=2, split=False)) == 1
