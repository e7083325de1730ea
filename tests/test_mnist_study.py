"""The Poisson-MNIST study through its command line: one small end-to-end run, and its errors."""
import json

import numpy as np
import pytest

from conftest import run_study


def _cli(*args):
    return run_study("mnist", *args)


def test_help_lists_the_options():
    out = _cli("--help")
    assert out.returncode == 0
    for option in ("--network", "--train-samples", "--mnist-dir", "--device", "--resume", "--batch", "--seed"):
        assert option in out.stdout


@pytest.mark.parametrize("args,message", [
    (("--network", "huge"), "invalid choice: 'huge'"),
    (("--mnist-dir", "/nonexistent/mnist"), "mnist_dir='/nonexistent/mnist' is not a folder"),
    (("--n-test", "15"), "n_test=15 must be a multiple of 10"),
    (("--n-train", "100", "--n-validation", "100"), "n_validation=100 must be an integer in [0, 100)"),
    (("--lr", "-1"), "lr=-1.0 must be a number >= 0"),
    (("--train-ms", "30"), "train_ms=30.0 must exceed the burn-in (burnin_ms=50.0)"),
    (("--optimiser", "adagrad"),
     "optimiser='adagrad' is not allowed; choose one of 'sgd', 'sgd_momentum', 'adamax', 'adam'"),
    (("--device", "gpu"), "invalid choice: 'gpu'"),
])
def test_bad_arguments_are_named(args, message, tmp_path):
    out = _cli(*args, "--out", str(tmp_path))
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "summary.json").exists()


def test_small_network_end_to_end_on_cpp_standalone(tmp_path):
    """Real digits, the small conv network with 2 replicas, 8 training samples: every output is written."""
    out = _cli("--network", "small", "--n-train", "20", "--n-test", "10", "--n-validation", "4", "--train-samples", "8",
               "--batch", "2", "--eval-every", "4", "--eval-samples", "4", "--checkpoint-every", "4",
               "--init-samples", "2", "--init-iterations", "1", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trained 8/8 samples" in out.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["synthetic_data"] is False and "real MNIST" in summary["data"]
    assert summary["training_samples"] == 8 and summary["final_test"]["n_test"] == 10
    assert [e["training_samples"] for e in summary["evaluations"]] == [0, 4, 8]
    assert [e["split"] for e in summary["evaluations"]] == ["validation", "validation", "test"]
    assert len(summary["final_test"]["accuracy_per_layer"]) == 2
    # synaptic work per training sample (learning on) and, apart, per test presentation (learning off)
    work = summary["synaptic_operations"]
    assert work["training"]["samples"] == 8 and work["test"]["samples"] == 4 + 4 + 10
    for train, test in zip(work["training"]["per_sample"], work["test"]["per_sample"]):
        assert train["update_operations"] == train["dense_update_operations"] == train["forward_operations"] > 0
        assert test["forward_operations"] == test["dense_forward_operations"] > 0 and "update_operations" not in test
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["network"]["batch"] == 2 and config["preset"] == "small" and config["study"] == "mnist"
    assert config["schedule"]["train_samples"] == 8 and config["data"]["n_train"] == 20
    assert "brian2" in config["versions"] and "--batch" in config["command_line"] and config["date"]
    sample = np.load(tmp_path / "test_sample.npz")
    assert sample["input"].shape == (1000, 784) and sample["readout_y"].shape == (2, 1000, 10)
    assert sample["input"].sum() > 100, "a digit at up to 50 Hz for 1 s holds many spikes"
    assert sample["layer1_spikes"].shape == sample["layer1_random_spikes"].shape == (1000, 32)
    # the tests ran on the test-only build, compiled once beside the training build
    assert out.stdout.count("built a network for testing only") == 1 and (tmp_path / "build_test" / "main").is_file()
    for name in ("results.npz", "checkpoint.npz", "learned.npz", "accuracy.png", "error.png", "raster.png",
                 "membrane.png", "readouts.png", "input.png"):
        assert (tmp_path / name).stat().st_size > 0, name


@pytest.mark.quick
def test_small_network_end_to_end_on_the_runtime_device(tmp_path):
    """The small network on Brian2's runtime device (numpy), 2 short training samples and 10 test
    digits: the study's outputs are written (the quick subset's MNIST run)."""
    out = _cli("--network", "small", "--device", "runtime", "--codegen", "numpy", "--n-train", "20", "--n-test", "10",
               "--n-validation", "0", "--train-samples", "2", "--eval-every", "100", "--eval-samples", "2",
               "--train-ms", "60", "--test-ms", "60", "--burnin-ms", "10", "--init", "uniform", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "trained 2/2 samples" in out.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["training_samples"] == 2 and summary["final_test"]["n_test"] == 10
    assert len(summary["final_test"]["accuracy_per_layer"]) == 2
    assert json.loads((tmp_path / "config.json").read_text())["device"] == "runtime"
    for name in ("results.npz", "checkpoint.npz", "accuracy.png", "raster.png", "membrane.png"):
        assert (tmp_path / name).stat().st_size > 0, name


def test_error_triggered_learning_on_the_small_network(tmp_path):
    """Eq. 6 on the small conv network with 2 replicas (shared kernels): it trains, and summary.json
    counts the learning and error events and far less update work than Eq. 5's every-step update."""
    out = _cli("--network", "small", "--n-train", "20", "--n-test", "10", "--n-validation", "0", "--train-samples", "4",
               "--batch", "2", "--eval-every", "100", "--learning", "error_triggered", "--optimiser", "sgd",
               "--lr", "0.01", "--error-threshold", "0.5", "--init-samples", "2", "--init-iterations", "1",
               "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["training_samples"] == 4
    for row in summary["synaptic_operations"]["training"]["per_sample"]:
        assert row["learning_events"] > 0 and row["error_events"] > 0
        assert 0 < row["update_operations"] < row["dense_update_operations"] / 5
        assert row["readout_operations"] < row["dense_readout_operations"]


def test_default_paper_network_trains_and_tests_on_cpp_standalone(tmp_path):
    """The default network (the paper's, ending in a batch-1 non-spiking output layer whose output
    group is its neuron group) through the CLI on the default device: one shortened training
    sample, then the test."""
    out = _cli("--train-samples", "1", "--n-train", "10", "--n-test", "10", "--n-validation", "2",
               "--eval-samples", "1",
               "--train-ms", "60", "--test-ms", "60", "--burnin-ms", "10", "--init-samples", "1",
               "--init-iterations", "1", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "paper network" in out.stdout and "trained 1/1 samples" in out.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["training_samples"] == 1 and len(summary["final_test"]["accuracy_per_layer"]) == 4
    assert json.loads((tmp_path / "config.json").read_text())["network"]["output_layer"] is True
    assert "initialisation (LSUV) layer 3" in out.stdout and summary["initialisation"]["3"]["measurements"] >= 1
    assert len(summary["health"][-1]["layers"]) == 4 and summary["health"][-1]["layers"][3]["silent_fraction"] is None
