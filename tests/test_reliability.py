"""Bad input, existing results, broken checkpoints and stopped runs: each is refused or handled with
a clear message that names the parameter, never a traceback, and nothing is lost.

Every bad command line is one row of BAD_COMMANDS: the study, its arguments, and a fragment the
message must hold. The commands are parsed and checked in this process; they stop before a network
is built, so the table runs in seconds.
"""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARES_TRAINED
from test_classification import CFG, RUNTIME, SCHEDULE, Stripes

from brian_decolle import ConfigError, NetworkConfig, commands, results
from brian_decolle.config import check_memory
from brian_decolle.devices import Target
from brian_decolle.training import (
    Diverged,
    differences,
    read_checkpoint,
    train_and_test,
)

BAD_COMMANDS = [
    # values: NaN, negative, zero, wrong type, out of range
    ("regression", ["--lr", "nan"], "lr=nan must be a number >= 0"),
    ("regression", ["--lr", "-1"], "lr=-1.0 must be a number >= 0"),
    ("regression", ["--epochs", "0"], "epochs=0 must be a positive integer"),
    ("regression", ["--epochs", "two"], "argument --epochs: invalid int value: 'two'"),
    ("regression", ["--dropout", "1.5"], "dropout=1.5 must lie in [0, 1)"),
    ("regression", ["--input-rate-hz", "inf"], "input_rate_hz=inf must be a positive number"),
    ("regression", ["--layer-sizes", "64", "0", "64"], "layer_sizes[1]=0 must be a positive integer"),
    ("regression", ["--seed", "-3"], "seed=-3 must be an integer >= 0"),
    ("regression", ["--threads", "2", "--device", "runtime"], "threads=2: OpenMP threads are a cpp_standalone"),
    ("regression", ["--error-threshold", "0", "--learning", "error_triggered", "--optimiser", "sgd"],
     "error_threshold=0.0 must be a positive number"),
    # unknown names
    ("regression", ["--optimiser", "adagrad"],
     "optimiser='adagrad' is not allowed; choose one of 'sgd', 'sgd_momentum', 'adamax', 'adam'"),
    ("regression", ["--device", "gpu"], "argument --device: invalid choice: 'gpu'"),
    ("mnist", ["--network", "huge"], "argument --network: invalid choice: 'huge'"),
    ("regression", ["--learning", "hebbian"], "learning='hebbian' is not allowed"),
    ("regression", ["--forward", "sparse"], "forward='sparse' is not allowed"),
    ("mnist", ["--init", "orthogonal"], "init='orthogonal' is not allowed"),
    ("dvs-gesture", ["--frames", "rgb"], "frames='rgb' is not allowed"),
    # inconsistent combinations
    ("mnist", ["--burnin-ms", "600"], "train_ms=500.0 must exceed the burn-in (burnin_ms=600.0)"),
    ("mnist", ["--train-ms", "0.5"], "train_ms=0.5 must exceed the burn-in"),
    ("mnist", ["--n-train", "4995"], "n_train=4995 must be a multiple of 10"),
    ("regression", ["--layer-sizes", "64", "64"], "weight_scale=(30.0, 10.0, 10.0) must be one value or one per"),
    ("regression", ["--learning", "error_triggered", "--optimiser", "adamax"], "optimiser='sgd'"),
    # too large for this machine: refused before anything is allocated, with the size
    ("regression", ["--layer-sizes", "200000", "200000", "200000"], "GiB, more than this machine's"),
    # data that is not there
    ("mnist", ["--mnist-dir", "/nonexistent/mnist"], "mnist_dir='/nonexistent/mnist' is not a folder"),
    ("dvs-gesture", ["--data-dir", "/nonexistent/dvs"], "DVSGesture"),
    ("events", ["--data-dir", "/nonexistent/events"], "data_dir='/nonexistent/events' is not a folder"),
    ("events", ["--tonic-dataset", "FOO"], "tonic_dataset='FOO' is not allowed; choose one of"),
    ("events", ["--downsample", "0"], "downsample=0 must be a positive integer"),
    ("events", ["--n-validation", "-1"], "n_validation=-1 must be an integer >= 0"),
    # durations too short to hold a sample
    ("regression", ["--duration-ms", "0.4"], "duration_ms=0.4 is 0 time step(s) of dt_ms=1.0; it must be at least 2"),
    ("regression", ["--duration-ms", "1"], "duration_ms=1.0 is 1 time step(s) of dt_ms=1.0; it must be at least 2"),
]


@pytest.mark.quick
@pytest.mark.parametrize("study, argv, message", BAD_COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_bad_command_is_refused_with_the_parameter(study, argv, message, tmp_path, capsys, monkeypatch):
    def reached(*args, **kwargs):
        raise AssertionError(f"{study} {argv} was not refused: the study started")
    for name, known in list(commands.STUDIES.items()):   # a row that is not refused must not run a study
        monkeypatch.setitem(commands.STUDIES, name, dataclasses.replace(known, run=reached))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as stop:
        commands.main([study, *argv, "--out", str(out)])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert message in error, error
    assert "Traceback" not in error
    assert not out.exists() or not any(out.glob("*.json")), "a refused run writes no results"


# ---- output folders ------------------------------------------------------------------------------

def _refusal(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        commands.main(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


def test_output_that_is_a_file_or_inside_one_is_refused(tmp_path, capsys):
    path = tmp_path / "a_file"
    path.write_text("keep me")
    assert "is a file" in _refusal(["regression", "--out", str(path)], capsys)
    assert "which is a file" in _refusal(["regression", "--out", str(path / "sub")], capsys)
    assert path.read_text() == "keep me"


def test_output_that_cannot_be_written_is_refused(tmp_path, capsys, monkeypatch):
    # (the tests may run as root, for whom every folder is writable: the permission check is asked)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert "cannot be written here" in _refusal(["regression", "--out", str(tmp_path / "new" / "out")], capsys)


def test_output_that_cannot_be_created_is_refused_and_nothing_is_left(tmp_path, capsys, monkeypatch):
    # /proc refuses new folders even to root (for whom os.access says yes)
    error = _refusal(["regression", "--out", "/proc/brian_decolle_test/out"], capsys)
    assert "out='/proc/brian_decolle_test/out' cannot be" in error and "Traceback" not in error
    # a folder that can be made is made and removed again: a refused run leaves nothing behind
    results.prepare_output_dir(tmp_path / "a" / "b")
    assert not (tmp_path / "a").exists()


def test_a_run_that_failed_before_its_results_does_not_block_the_next(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"

    def failing(config, out_dir, **options):   # as a run that fails after writing config.json
        results.write_config(out_dir, "regression", config, target=options["target"], data="x", synthetic=True)
        (Path(out_dir) / "build").mkdir(exist_ok=True)
        raise ConfigError("failed while building")

    monkeypatch.setitem(commands.STUDIES, "regression", dataclasses.replace(commands.STUDIES["regression"],
                                                                           run=failing))
    assert "failed while building" in _refusal(["regression", "--out", str(out)], capsys)
    assert "already holds results" not in _refusal(["regression", "--out", str(out)], capsys)
    # a checkpoint is a result: that folder is kept
    (out / "checkpoint.npz").write_bytes(b"kept")
    assert "already holds results (checkpoint.npz)" in _refusal(["regression", "--out", str(out)], capsys)


def test_cuda_without_a_gpu_is_refused_before_anything_is_built(tmp_path, capsys, monkeypatch):
    import shutil
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "nvidia-smi" else which(name) or "/x/nvcc")
    out = tmp_path / "out"
    error = _refusal(["regression", "--device", "cuda_standalone", "--out", str(out)], capsys)
    assert "device='cuda_standalone' needs an NVIDIA GPU to run and none was found" in error
    assert not out.exists()


def test_burnin_longer_than_every_sample_is_refused():
    from brian_decolle.network import build_network
    cfg = NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=1, burnin_ms=10.0)
    spikes, targets = np.zeros((20, 4)), [np.zeros((20, 1))]
    with pytest.raises(ConfigError, match=r"burnin_ms=10.0 \(10 steps\) is no shorter than the longest sample of "
                                          r"the input \(10 steps\).*allowed: burnin_ms < 10"):
        build_network(cfg, spikes, targets, sample_steps=10)
    with pytest.raises(ConfigError, match=r"the longest sample of the input \(5 steps\)"):
        build_network(cfg, spikes[:5], [targets[0][:5]])
    # a network that will not learn (built for testing, or lr 0) may be as short as it likes
    build_network(cfg, spikes[:5], [targets[0][:5]], plastic=False)
    build_network(dataclasses.replace(cfg, lr=0.0), spikes[:5], [targets[0][:5]])


def test_existing_results_are_never_replaced_silently(tmp_path, capsys):
    out = tmp_path / "done"
    out.mkdir()
    (out / "summary.json").write_text('{"kept": true}')
    error = _refusal(["regression", "--out", str(out)], capsys)
    assert "already holds results (summary.json)" in error and "--overwrite" in error
    assert json.loads((out / "summary.json").read_text()) == {"kept": True}
    # --overwrite removes the old results (none mixes with the new run's) and keeps other files
    (out / "notes.txt").write_text("mine")
    results.prepare_output_dir(out, overwrite=True)
    assert not (out / "summary.json").exists() and (out / "notes.txt").read_text() == "mine"


def test_memory_check_names_the_size():
    cfg = NetworkConfig(n_inputs=100, layer_sizes=(64,), readout_sizes=1)
    check_memory(cfg, available=10 ** 9)
    with pytest.raises(ConfigError, match=r"6.46e\+03 synapses .* more than this machine's 0.0 GiB"):
        check_memory(cfg, available=1000)


# ---- event recordings: one check for the DVS Gesture and the events study ------------------------

def _event_data(study, root):
    """A tiny data folder of the study (the synthetic DVS Gesture stand-in, or an events folder) and the
    study's arguments; one recording file of its training split."""
    if study == "dvs-gesture":
        from brian_decolle.data.synthetic_gestures import write_synthetic_gestures
        data = write_synthetic_gestures(root / "synthetic_dvsgesture", seed=0, duration_ms=(200.0, 250.0),
                                        events_per_second=500.0, lightings=2, train_users=range(1, 6),
                                        test_users=range(24, 29))
        return ["--data-dir", str(data), "--train-ms", "100", "--test-ms", "100"], \
            sorted((data / "DVSGesture" / "ibmGestureTrain").glob("*/3.npy"))[0]
    from test_events import write_folder
    data = write_folder(root / "events")
    return ["--data-dir", str(data), "--train-ms", "60", "--test-ms", "60"], data / "train" / "left" / "rec2.npy"


@pytest.mark.parametrize("study", ["dvs-gesture", "events"])
@pytest.mark.parametrize("damage, message", [
    (lambda path: path.write_bytes(path.read_bytes()[:-20]), "is not a numpy file of events, or is truncated"),
    (lambda path: np.save(path, np.load(path)[::-1]), "the events are not in time order (t must not decrease)"),
])
def test_bad_recording_is_refused_with_the_file_before_anything_is_written(study, damage, message, tmp_path,
                                                                          capsys):
    pytest.importorskip("tonic", reason="event data are read by tonic: pip install 'brian-decolle[dvs]'")
    args, recording = _event_data(study, tmp_path)
    damage(recording)
    out = tmp_path / "out"
    error = _refusal([study, *args, "--burnin-ms", "10", "--device", "runtime", "--codegen", "numpy",
                      "--out", str(out)], capsys)
    assert f"{recording}" in error and message in error and "Traceback" not in error, error
    assert not out.exists()


# ---- re-runs from config.json ------------------------------------------------------------------

@pytest.mark.quick
@pytest.mark.parametrize("content, message", [
    ("not json", "is not a readable config.json"),
    ('{"network": {}}', "it has no 'study' entry"),
    ('{"study": "mnist"}', "records a 'mnist' run, not 'regression'"),
])
def test_bad_config_file_is_refused(content, message, tmp_path, capsys):
    path = tmp_path / "config.json"
    path.write_text(content)
    assert message in _refusal(["regression", "--config", str(path), "--out", str(tmp_path / "o")], capsys)


@pytest.mark.quick
def test_missing_config_file_is_refused(tmp_path, capsys):
    assert "is not a readable config.json" in _refusal(
        ["regression", "--config", str(tmp_path / "none.json"), "--out", str(tmp_path / "o")], capsys)


# ---- checkpoints ---------------------------------------------------------------------------------

@SHARES_TRAINED
def test_truncated_checkpoint_is_detected(trained, tmp_path):
    data = (trained / "checkpoint.npz").read_bytes()
    for cut in (10, len(data) // 2, len(data) - 30):
        broken = tmp_path / f"cut{cut}.npz"
        broken.write_bytes(data[:cut])
        with pytest.raises(ConfigError, match="truncated or not a checkpoint"):
            read_checkpoint(broken)
        assert broken.read_bytes() == data[:cut], "the file is left for inspection"


@SHARES_TRAINED
def test_resume_with_other_settings_names_the_fields(trained, tmp_path):
    import shutil
    shutil.copytree(trained, tmp_path / "run")
    other = NetworkConfig(**{**{f: getattr(CFG, f) for f in CFG.to_dict()}, "lr": 0.02, "dropout": 0.3})
    with pytest.raises(ConfigError) as err:
        train_and_test(other, SCHEDULE, Stripes(), tmp_path / "run", target=RUNTIME, resume=True,
                       report=lambda line: None)
    assert "network.lr: 0.01 -> 0.02" in str(err.value) and "network.dropout: 0.2 -> 0.3" in str(err.value)


@SHARES_TRAINED
def test_refused_resume_changes_nothing(trained, tmp_path, capsys):
    """The checkpoint was written with other settings (the stripes network, not MNIST's): the refusal
    names them and leaves every file as it was, config.json included."""
    import shutil
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    (out / "config.json").write_text('{"study": "mnist", "kept": true}')
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    error = _refusal(["mnist", "--network", "small", "--device", "runtime", "--codegen", "numpy", "--resume",
                      "--out", str(out)], capsys)
    assert "was written with other settings" in error and "Traceback" not in error
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_differences_lists_every_changed_leaf():
    assert differences({"a": {"b": 1, "c": [1, 2]}, "d": 0}, {"a": {"b": 2, "c": [1, 2]}, "e": 1}) == \
        ["a.b: 1 -> 2", "d: 0 -> None", "e: None -> 1"]


def test_diverging_run_stops_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch):
    """The surrogate's slope vanishes for large |u|, so a large lr alone saturates rather than overflows;
    the check is made honest by a run whose weights come back NaN after 3 good runs (float32
    overflow, or a user's own equations, do that)."""
    from brian_decolle import training
    real, calls = training._Runs.train, []

    def overflowing(self, samples, state, **kwargs):
        state, fit = real(self, samples, state, **kwargs)
        calls.append(1)
        if kwargs.get("learn") and len(calls) > 3:
            state = {**state, "layer1_w": np.full_like(state["layer1_w"], np.nan)}
        return state, fit

    monkeypatch.setattr(training._Runs, "train", overflowing)
    schedule = type(SCHEDULE)(**{**SCHEDULE.__dict__, "init": "uniform", "checkpoint_every": 2})
    with pytest.raises(Diverged) as err:
        train_and_test(CFG, schedule, Stripes(), tmp_path, target=RUNTIME, report=lambda line: None)
    assert "layer1_w hold NaN or inf" in str(err.value) and "Lower lr (now 0.01)" in str(err.value)
    state, history = read_checkpoint(tmp_path / "checkpoint.npz")
    assert history["samples_done"] == 12 and f"({history['samples_done']} samples)" in str(err.value)
    assert all(np.all(np.isfinite(v)) for v in state.values())


# ---- a stopped run -------------------------------------------------------------------------------

def test_signal_handler_only_asks_for_a_stop():
    from brian_decolle import stopping
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(stopping.Interrupted):
        with stopping.on_signals():
            os.kill(os.getpid(), signal.SIGTERM)   # delivered here, in the main thread: nothing is raised ...
            time.sleep(0.01)
            assert stopping.requested()
            stopping.check()                        # ... until the run reaches a point where it can stop
            raise AssertionError("check() did not stop")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN, "once stopping, a repeated SIGTERM is ignored"
    signal.signal(signal.SIGTERM, previous)
    with stopping.on_signals():
        stopping.check()   # no signal: no stop
    assert signal.getsignal(signal.SIGTERM) == previous and not stopping.requested()


@SHARES_TRAINED
def test_a_stop_during_an_evaluation_saves_it_as_due_and_resume_gives_the_same_run(trained, tmp_path, monkeypatch):
    """A stop asked for during the training run after which an evaluation is due (runs of 4 samples,
    eval_every 8: run 2) stops in that evaluation and saves the checkpoint with the evaluation still
    due; --resume does it first and ends with the uninterrupted run's learned weights and evaluations.
    (A stop between runs saves a checkpoint like the periodic ones, whose resume
    test_classification.py checks.)"""
    stop_in_run = 2
    from brian_decolle import stopping, training
    real, calls = training._Runs.train, []

    def signalled(self, samples, state, **kwargs):
        after = real(self, samples, state, **kwargs)
        calls.append(kwargs["learn"])   # (LSUV's measurements run with learn=False)
        if sum(calls) == stop_in_run:
            stopping.request()   # as the handler does, while the run is under way
        return after

    monkeypatch.setattr(training._Runs, "train", signalled)
    try:
        with pytest.raises(stopping.Interrupted):
            train_and_test(CFG, SCHEDULE, Stripes(), tmp_path, target=RUNTIME, report=lambda line: None)
    finally:
        stopping.clear()
    _, history = read_checkpoint(tmp_path / "checkpoint.npz")
    assert history["runs_done"] == stop_in_run and history["evaluation_due"]
    monkeypatch.setattr(training._Runs, "train", real)
    resumed = train_and_test(CFG, SCHEDULE, Stripes(), tmp_path, target=RUNTIME, resume=True,
                             report=lambda line: None)
    _, uninterrupted = read_checkpoint(trained / "checkpoint.npz")
    assert [e["accuracy"] for e in resumed["evaluations"]] == [e["accuracy"] for e in uninterrupted["evaluations"]]
    for name, values in np.load(trained / "learned.npz").items():
        np.testing.assert_array_equal(np.load(tmp_path / "learned.npz")[name], values, err_msg=name)


#: when the signal is sent: as soon as the run has started (config.json: building, first test), at its first
#: checkpoint, and a moment later (mid-run, or mid-way through saving)
MOMENTS = {"starting": ("config.json", 0.0), "at a checkpoint": ("checkpoint.npz", 0.0),
           "between checkpoints": ("checkpoint.npz", 0.7)}


@pytest.mark.parametrize("moment, signum", [pytest.param(moment, signal.SIGTERM, id=f"SIGTERM {moment}")
                                            for moment in MOMENTS]   # (SIGINT takes SIGTERM's path: one moment)
                         + [pytest.param("between checkpoints", signal.SIGINT, id="SIGINT between checkpoints")])
def test_a_signal_stops_the_run_keeps_the_checkpoint_and_resume_finishes_it(moment, signum, tmp_path):
    """SIGTERM or SIGINT during a run: it stops with exit 130 and a message, whatever it was doing; a
    checkpoint it leaves is finite and --resume completes the run. A signalled run that completes fails
    this test (the signal was lost)."""
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "brian_decolle", "mnist", "--network", "small", "--device", "runtime",
            "--codegen", "numpy", "--n-train", "20", "--n-test", "10", "--n-validation", "0",
            "--train-samples", "6", "--eval-every", "100", "--eval-samples", "2", "--checkpoint-every", "1",
            "--train-ms", "60", "--test-ms", "60", "--burnin-ms", "10", "--init", "uniform", "--out", str(out)]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    waited_for, delay = MOMENTS[moment]
    deadline = time.time() + 600
    while not (out / waited_for).exists() and run.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(delay)
    assert run.poll() is None, f"the run ended before the signal: {run.returncode}"
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=600)
    assert run.returncode != 0, "the run was signalled but completed: the signal was lost"
    assert run.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "Traceback" not in stderr
    if (out / "checkpoint.npz").exists():
        state, history = read_checkpoint(out / "checkpoint.npz")
        assert history["samples_done"] < 6 and "--resume" in stderr
        assert all(np.all(np.isfinite(v)) for v in state.values())
    else:
        assert "No checkpoint was written" in stderr
    resumed = subprocess.run(argv + ["--resume"], capture_output=True, text=True, env=env, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((out / "summary.json").read_text())["training_samples"] == 6


# ---- devices -------------------------------------------------------------------------------------

def _standalone(device, tmp_path):
    from brian_decolle import devices
    Target(device, build_dir=str(tmp_path / "build")).select()
    return devices


def test_full_disk_during_a_build_is_a_clear_error(tmp_path, monkeypatch):
    import errno

    import brian2 as b2
    devices = _standalone("cpp_standalone", tmp_path)

    def disk_full(**options):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(b2.device, "build", disk_full)
    with pytest.raises(ConfigError, match=r"the disk holding the build folder .*build is full .*--build-dir"):
        devices.build()


def test_cuda_without_brian2cuda_or_nvcc_says_what_is_missing(tmp_path, monkeypatch):
    import shutil
    monkeypatch.setitem(sys.modules, "brian2cuda", None)
    with pytest.raises(ConfigError, match=r"needs brian2cuda, which is not installed: pip install --pre "
                                          r"'brian-decolle\[cuda\]'"):
        Target("cuda_standalone", build_dir=str(tmp_path / "b")).select()
    monkeypatch.delitem(sys.modules, "brian2cuda")
    pytest.importorskip("brian2cuda")
    devices = _standalone("cuda_standalone", tmp_path)
    which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "nvcc" else which(name))
    with pytest.raises(ConfigError, match="needs nvcc .* CUDA toolkit"):
        devices.build(run=False)
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "nvidia-smi" else which(name) or "/x/nvcc")
    with pytest.raises(ConfigError, match="needs an NVIDIA GPU to run"):
        devices.build(run=True)
