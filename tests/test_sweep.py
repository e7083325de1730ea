"""brian-decolle sweep: spec checks, task grouping, a 2-worker LocalCluster sweep, skips, failures, and
the exactness of re-running a shared compiled build with another configuration's values; the same for
the classification studies (one OnlineClassifier build per structure group)."""
import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brian_decolle import devices, mnist, regression, sweep
from brian_decolle.config import ConfigError
from brian_decolle.figures import sweep as sweep_figures

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
    ({"study": "speech"}, "sweeps run 'regression', 'mnist', 'dvs-gesture', 'events'"),
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
    assert shared["synaptic_operations"] == fresh["synaptic_operations"]
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


# ---- classification studies ----------------------------------------------------------------------
#: Poisson MNIST in miniature: two dense layers of 12 on the 784 pixels, 40 ms samples (10 ms burn-in),
#: 4 training samples, an evaluation of 5 validation digits after 2, a final test of 10 digits; both
#: structural options on (the activity regulariser, the homeostasis)
TINY_MNIST = {"network.conv_layers": [], "network.layer_sizes": [12, 12], "network.burnin_ms": 10.0,
              "network.reg_rate": 0.01, "network.homeostasis_tau_s": 5.0, "data.n_train": 40, "data.n_test": 10, "data.n_validation": 10,
              "schedule.train_ms": 40.0, "schedule.test_ms": 40.0, "schedule.train_samples": 4,
              "schedule.eval_every": 2, "schedule.eval_samples": 5, "schedule.checkpoint_every": 2,
              "schedule.init": "uniform"}
#: a value of every run-time field of the mnist study other than TINY_MNIST's
MNIST_VALUES = {"network.seed": 3, "network.lr": 3e-3, "network.dropout": 0.2, "network.weight_scale": 5.0,
                "network.readout_amplitude": 1.0, "network.reg_u": 0.02, "network.reg_rate": 0.03,
                "network.error_threshold": 0.05, "network.burnin_ms": 8.0, "schedule.train_ms": 30.0,
                "schedule.train_samples": 6, "schedule.eval_every": 3, "schedule.eval_samples": 4,
                "schedule.checkpoint_every": 3, "schedule.init": "lsuv", "schedule.init_samples": 2,
                "schedule.init_u_mean": -0.5, "schedule.init_u_std": 0.8, "schedule.init_rate_hz": 30.0,
                "schedule.init_tolerance": 0.2,
                "schedule.init_iterations": 2, "schedule.lr_drop_every": 2, "schedule.lr_drop_factor": 0.5,
                "data.max_rate_hz": 80.0, "data.n_validation": 5, "data.n_train": 30, "data.n_test": 20,
                "network.homeostasis_tau_s": 2.0, "network.homeostasis_hz": 30.0, "network.homeostasis_window_s": 0.5,
                "network.lr_scale": [1.0, 0.5], "schedule.eval_spacing": "doubling"}


def mnist_spec(**changes) -> dict:
    return {"study": "mnist", "preset": "small", "seeds": [0], "base": dict(TINY_MNIST),
            "grid": {"network.lr": [1e-3, 1e-2]}, **RUNTIME, **changes}


def test_every_run_time_field_is_a_field_of_its_study():
    for study, names in sweep.RUNTIME_FIELDS.items():
        assert set(names) <= set(sweep.fields_of(study)), study
    assert set(MNIST_VALUES) == set(sweep.RUNTIME_FIELDS["mnist"])   # the exactness test changes every one


@pytest.mark.parametrize("change, message", [
    ({"metric": "accuracy"}, "metric='accuracy' is not a scalar of the mnist summary; choose one of "
                             "validation.best_accuracy, validation.layerN.accuracy"),
    ({"metric": "test.layer3.accuracy"}, "has 2 layers; choose one of validation.best_accuracy"),
    ({"base": {**TINY_MNIST, "data.n_validation": 0}}, "reads the validation split, which data.n_validation=0"),
    ({"base": {**TINY_MNIST, "schedule.eval_every": 4}}, "schedule.eval_every=4 >= schedule.train_samples=4"),
    ({"grid": {"network.optimiser": ["adagrad"]}}, "optimiser='adagrad' is not allowed"),
])
def test_bad_classification_specs_are_refused(change, message):
    with pytest.raises(ConfigError) as err:
        sweep.check_spec(mnist_spec(**change))
    assert message in str(err.value)


def test_classification_groups_by_structure():
    spec = sweep.check_spec(mnist_spec(device="cpp_standalone"))
    base = sweep.compose("mnist", "small", TINY_MNIST)
    key = sweep.group_key(spec, base)
    assert sweep.group_key(spec, sweep.compose("mnist", "small", {**TINY_MNIST, **MNIST_VALUES})) == key
    for change in ({"network.optimiser": "sgd"}, {"network.adamax_decay": 0.9}, {"schedule.test_ms": 50.0},
                   {"network.batch": 2}, {"network.reg_rate": 0.0}, {"network.homeostasis_tau_s": 0.0},
                   {"network.layer_sizes": [12, 10]}):
        assert sweep.group_key(spec, sweep.compose("mnist", "small", {**TINY_MNIST, **change})) != key, change


def test_classification_sweep_on_a_local_cluster(tmp_path):
    """2 tiny MNIST tasks on a 2-worker LocalCluster (runtime device): the row's validation and test metrics
    are the summary's, the figure has the chance line, and a re-run skips both tasks."""
    out = tmp_path / "sweep"
    summary = sweep.run_sweep(sweep.check_spec(mnist_spec()), out, workers=2, report=lambda line: None)
    assert (summary["tasks"], summary["done"], summary["failed"]) == (2, 2, 0)
    rows = _rows(out)
    for row in rows:
        task = json.loads((out / "tasks" / row["task"] / "summary.json").read_text())
        validation, final = task["evaluations"][-2], task["evaluations"][-1]
        assert validation["split"] == "validation" and validation["training_samples"] == 2
        assert [float(row[f"validation.layer{k}.accuracy"]) for k in (1, 2)] == validation["accuracy_per_layer"]
        assert float(row["validation.best_accuracy"]) == max(validation["accuracy_per_layer"])
        assert [float(row[f"test.layer{k}.accuracy"]) for k in (1, 2)] == final["accuracy_per_layer"]
        assert float(row["health.layer2.rate_median_hz"]) == task["health"][-1]["layers"][1]["rate_median_hz"]
        assert float(row["chance_accuracy"]) == 0.1
    spec, finished = sweep_figures.load(out)
    axes = sweep_figures.metric_against(spec, finished, "network.lr").axes[0]
    assert any(list(line.get_ydata()) == [0.1, 0.1] for line in axes.lines)   # the chance level
    assert "SYNTHETIC" not in axes.get_title()   # real digits
    assert [p.name for p in (out / "figures").iterdir()] == ["validation_best_accuracy_vs_network_lr.png"]
    again = sweep.run_sweep(sweep.check_spec(mnist_spec()), out, workers=2, report=lambda line: None)
    assert (again["done"], again["skipped"]) == (0, 2)


def _same_files(left: Path, right: Path, names) -> None:
    """The npz files hold the same arrays; a checkpoint's history the same, but for the times it records."""
    for name in names:
        with np.load(left / name) as a, np.load(right / name) as b:
            assert sorted(a.files) == sorted(b.files), name
            for key in b.files:
                if key == "history":
                    histories = [json.loads(str(x[key])) for x in (a, b)]
                    for history in histories:
                        del history["train_time_s"], history["test_time_s"]
                    assert histories[0] == histories[1], name
                else:
                    assert np.array_equal(a[key], b[key]), (name, key)


@pytest.mark.parametrize("network", [
    {},
    pytest.param({"network.conv_layers": mnist.preset("small").network.conv_layers, "network.layer_sizes": []},
                 marks=pytest.mark.slow, id="conv"),   # (the small preset's convolutions: 70 s per compile)
], ids=["dense", "conv"])
def test_a_shared_classifier_build_equals_a_fresh_build(tmp_path, network):
    """cpp_standalone: one MNIST build compiled for config A, then trained and tested with config B's values
    (every run-time field changed, LSUV on), writes exactly what a fresh build of B writes: accuracies,
    predictions, learned weights, checkpoint, recording. A config whose namespace constant differs
    (adamax_decay) fails, saying so, instead of running on the wrong code."""
    tiny = {**TINY_MNIST, **network}
    spec = sweep.check_spec(mnist_spec(base=tiny, grid={}, device="cpp_standalone", codegen_target="cython"))
    a = sweep.compose("mnist", "small", tiny)
    b = sweep.compose("mnist", "small", {**tiny, **MNIST_VALUES})
    other = sweep.compose("mnist", "small", {**tiny, "network.adamax_decay": 0.9})
    tasks = [sweep.Task(name, {}, config) for name, config in (("a", a), ("other", other), ("b", b))]
    got = sweep.run_chunk("mnist", spec.target, sweep.group_key(spec, a), str(tmp_path / "build"), tasks,
                          str(tmp_path))
    # one training build and one test-only build, both deleted at the end
    assert got["compiles"] == 2 and not (tmp_path / "build").exists() and not (tmp_path / "build_test").exists()
    status = {r["task"]: r for r in got["records"]}
    assert status["a"]["status"] == status["b"]["status"] == "done"
    assert status["other"]["status"] == "failed" and "structure" in status["other"]["error"]

    mnist.run(b, tmp_path / "fresh", target=devices.Target(build_dir=str(tmp_path / "fresh_build")))
    shared, fresh = (json.loads((tmp_path / folder / "summary.json").read_text()) for folder in ("tasks/b", "fresh"))
    assert shared["shared_build"]["compiled_for"] == "a"
    for key in ("final_test", "evaluations", "health", "initialisation", "training_samples"):
        assert shared[key] == fresh[key], key
    assert fresh["initialisation"] is not None and shared["training_samples"] == 6
    names = ("predictions.npz", "learned.npz", "weights.npz", "test_sample.npz", "checkpoint.npz")
    _same_files(tmp_path / "tasks" / "b", tmp_path / "fresh", names)
    with np.load(tmp_path / "tasks" / "a" / "learned.npz") as s, np.load(tmp_path / "fresh" / "learned.npz") as f:
        assert not np.array_equal(s["layer1_w"], f["layer1_w"])   # A's own run differs: B's values did arrive


def test_a_stopped_classification_task_continues_from_its_checkpoint(tmp_path, monkeypatch):
    """A task stopped part way (its third training run fails, as a killed sweep stops) keeps its last checkpoint
    (after 2 samples); the chunk run again continues from it and ends as an uninterrupted task does: the same
    evaluations and learned weights."""
    from brian_decolle import training
    # (one validation digit per evaluation: on the runtime device each test digit is a build of its own)
    base = {**TINY_MNIST, "schedule.eval_samples": 1}
    spec = sweep.check_spec(mnist_spec(base=base, grid={}))
    config = sweep.compose("mnist", "small", base)
    group = sweep.group_key(spec, config)

    def chunk(out):
        return sweep.run_chunk("mnist", spec.target, group, str(tmp_path / "build"), [sweep.Task("t", {}, config)],
                               str(out))

    chunk(tmp_path / "whole")
    real, runs = training._Runs.train, []

    def killed_in_run_3(self, samples, state, **kwargs):
        runs.append(kwargs["learn"])
        if sum(runs) == 3:
            raise RuntimeError("killed")
        return real(self, samples, state, **kwargs)

    monkeypatch.setattr(training._Runs, "train", killed_in_run_3)
    assert chunk(tmp_path / "cut")["records"][0]["status"] == "failed"
    folder = tmp_path / "cut" / "tasks" / "t"
    assert training.read_checkpoint(folder / "checkpoint.npz")[1]["samples_done"] == 2
    runs.clear()

    def counted(self, samples, state, **kwargs):
        runs.append(kwargs["learn"])
        return real(self, samples, state, **kwargs)

    monkeypatch.setattr(training._Runs, "train", counted)
    assert chunk(tmp_path / "cut")["records"][0]["status"] == "done"
    assert sum(runs) == 2, "only the training runs after the checkpoint run again"
    assert not (folder / "error.json").exists()
    whole, cut = (json.loads((out / "tasks" / "t" / "summary.json").read_text()) for out in (tmp_path / "whole",
                                                                                             tmp_path / "cut"))
    assert cut["evaluations"] == whole["evaluations"] and cut["training_samples"] == 4
    _same_files(tmp_path / "whole" / "tasks" / "t", folder, ("learned.npz",))


def test_the_classification_specs_are_valid():
    mnist_spec_ = sweep.read_spec(ROOT / "studies" / "sweep_mnist.toml")
    tasks = sweep.tasks(mnist_spec_)
    assert len(tasks) == 16 and mnist_spec_.metric == "validation.best_accuracy"
    assert {t.config.network.optimiser for t in tasks} == {"adamax", "sgd"}
    assert all(t.config.data.n_validation == 200 and t.config.schedule.train_samples == 1000 for t in tasks)
    assert len(sweep.chunks(mnist_spec_, tasks, workers=2, split=False)) == 2   # one build per optimiser
    dvs = sweep.read_spec(ROOT / "studies" / "sweep_dvs.toml")
    assert dvs.study == "dvs-gesture" and len(sweep.chunks(dvs, sweep.tasks(dvs), workers=2, split=False)) == 1


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "studies").glob("sweep_*.toml")))
def test_every_sweep_spec_in_studies_is_valid(name):
    """The specs RESULTS.md quotes stay runnable: each reads, composes its tasks and groups them."""
    spec = sweep.read_spec(ROOT / "studies" / name)
    tasks = sweep.tasks(spec)
    assert tasks and sweep.chunks(spec, tasks, workers=2, split=False)


def test_a_dvs_sweep_without_its_data_is_refused_before_anything_runs(tmp_path):
    spec = sweep.read_spec(ROOT / "studies" / "sweep_dvs.toml")
    missing = tmp_path / "nowhere"
    spec = dataclasses.replace(spec, base={**spec.base, "data.data_dir": str(missing)})
    with pytest.raises(ConfigError, match="nowhere"):
        sweep.run_sweep(spec, tmp_path / "out", workers=1, report=lambda line: None)
    assert not (tmp_path / "out" / "tasks").exists()


def test_an_events_sweep_compiles_once_on_a_local_cluster(tmp_path):
    """4 tasks (2 learning rates x 2 seeds) of a tiny SYNTHETIC event folder on cpp_standalone through Dask: the
    network adapted to the data is compiled once (and its test-only twin once), every task runs on it, and the figure says SYNTHETIC."""
    pytest.importorskip("tonic", reason="event data need tonic: pip install 'brian-decolle[dvs]'")
    root = tmp_path / "synthetic_events"
    rng = np.random.default_rng(0)
    (root / "train").mkdir(parents=True)
    (root / "dataset.json").write_text(json.dumps({"sensor_size": [8, 6, 2], "classes": ["left", "right"]}))
    for split, n in (("train", 6), ("test", 3)):
        for label, name in enumerate(("left", "right")):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for k in range(n):   # (x, y, p, t): events on the left or the right half of the sensor, in time order
                events = np.column_stack([rng.integers(0, 4, 200) + 4 * label, rng.integers(0, 6, 200),
                                          rng.integers(0, 2, 200), np.sort(rng.integers(0, 80_000, 200))])
                np.save(root / split / name / f"rec{k}.npy", events)
    spec = sweep.check_spec({
        "study": "events", "seeds": [0, 1], "device": "cpp_standalone", "grid": {"network.lr": [1e-3, 1e-2]},
        "base": {"data.data_dir": str(root), "data.n_validation": 2, "network.layer_sizes": [16],
                 "network.burnin_ms": 10.0, "schedule.train_ms": 40.0, "schedule.test_ms": 40.0,
                 "schedule.train_samples": 4, "schedule.eval_every": 2, "schedule.eval_samples": 2,
                 "schedule.init": "uniform"}})
    out = tmp_path / "sweep"
    summary = sweep.run_sweep(spec, out, workers=1, report=lambda line: None)
    # (compiles: the group's training build and its test-only build)
    assert (summary["done"], summary["failed"], summary["groups"], summary["compiles"]) == (4, 0, 1, 2)
    rows = _rows(out)
    compiled = [json.loads((out / "tasks" / r["task"] / "summary.json").read_text())["shared_build"] for r in rows]
    assert len({c["compiled_for"] for c in compiled}) == 1
    assert all(r["synthetic_data"] == "True" and float(r["chance_accuracy"]) == 0.5 for r in rows)
    assert all(0 <= float(r["validation.best_accuracy"]) <= 1 for r in rows)
    assert not any(path.is_dir() for path in (out / "builds").glob("*"))   # the build folder is deleted
    spec_record, finished = sweep_figures.load(out)
    assert "SYNTHETIC data" in sweep_figures.metric_against(spec_record, finished, "network.lr").axes[0].get_title()
