"""The DVS Gesture study: one end-to-end training step of the cpu network on the synthetic set,
the missing-data message, and the paper network's CUDA code (generated without a GPU)."""
import dataclasses
import json

import numpy as np
import pytest

from brian_decolle import devices
from brian_decolle.gestures import preset
from brian_decolle.network import build_network
from conftest import run_study


def _cli(*args, **kwargs):
    return run_study("dvs_gesture", *args, **kwargs)


def test_help_lists_the_options():
    out = _cli("--help")
    assert out.returncode == 0
    for option in ("--data-dir", "--download", "--synthetic", "--network", "--frames", "--resume", "--device"):
        assert option in out.stdout


def test_missing_data_is_one_clear_message(tmp_path):
    out = _cli("--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert out.returncode == 2
    assert "data_dir=" in out.stderr and "does not exist" in out.stderr
    assert "ibmGestureTrain" in out.stderr and "--download" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "out" / "summary.json").exists()


def test_bad_frames_choice_is_named(tmp_path):
    out = _cli("--data-dir", str(tmp_path), "--frames", "spikes")
    assert out.returncode == 2 and "frames='spikes' is not allowed; choose one of 'counts', 'binary'" in out.stderr


def test_default_cpu_network_trains_end_to_end_on_synthetic_gestures(tmp_path):
    """Generate the synthetic set, train 2 samples (one run) with the default network on the default
    device, test 4 recordings: every output written."""
    data = tmp_path / "synthetic_dvsgesture"
    out = _cli("--data-dir", str(data), "--synthetic", "--train-samples", "2", "--init-samples", "1",
               "--init-iterations", "1",
               "--eval-every", "2", "--eval-samples", "2", "--n-test", "4", "--checkpoint-every", "2",
               "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "writing the SYNTHETIC gesture set" in out.stdout and "trained 2/" in out.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["synthetic_data"] is True and summary["task"].startswith("SYNTHETIC")
    assert summary["final_test"]["n_test"] == 4 and len(summary["final_test"]["accuracy_per_layer"]) == 3
    sample = np.load(tmp_path / "out" / "test_sample.npz")
    assert sample["input"].shape == (1800, 2048) and sample["input"].sum() > 100
    assert sample["readout_y"].shape == (3, 1800, 11)
    assert "SYNTHETIC" in str(np.load(tmp_path / "out" / "results.npz")["data"])
    for name in ("accuracy.png", "error.png", "raster.png", "membrane.png", "readouts.png", "input.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name


@pytest.mark.quick
def test_cpu_network_end_to_end_on_the_runtime_device(tmp_path):
    """The cpu network on Brian2's runtime device (numpy): one 30 ms training sample of the synthetic set
    and 2 test recordings of 30 ms; the outputs are written and say SYNTHETIC (the quick subset's run)."""
    out = _cli("--data-dir", str(tmp_path / "synthetic_dvsgesture"), "--synthetic", "--device", "runtime",
               "--codegen", "numpy", "--train-samples", "1", "--init", "uniform", "--eval-every", "100",
               "--eval-samples", "1", "--n-test", "2", "--train-ms", "30", "--test-ms", "30", "--burnin-ms", "5",
               "--out", str(tmp_path / "out"))
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["synthetic_data"] is True and summary["training_samples"] == 1
    assert summary["final_test"]["n_test"] == 2 and len(summary["final_test"]["accuracy_per_layer"]) == 3
    assert json.loads((tmp_path / "out" / "config.json").read_text())["device"] == "runtime"
    for name in ("results.npz", "accuracy.png", "raster.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name


def test_paper_network_shapes_follow_table_2():
    cfg = preset("paper").network
    assert cfg.input_shape == (2, 32, 32)
    assert [spec.unit_shape for spec in cfg.layers] == [(64, 30, 30), (128, 13, 13), (128, 11, 11)]
    assert [spec.output_shape for spec in cfg.layers] == [(64, 15, 15), (128, 13, 13), (128, 5, 5)]
    assert cfg.random_tau and cfg.tau_range_ms == (10.0, 35.0) and cfg.w_rp == 1.0
    assert np.isclose(cfg.alpha_r, np.exp(-1 / 2.86)) and cfg.dropout == 0.5 and [spec.readout_size for spec in cfg.layers] == [11] * 3


def test_paper_network_generates_cuda_code(tmp_path):
    """The paper network (Table 2) as a cuda_standalone project; without a GPU only the code is generated.
    (Its 170 M connections are made by the generated code at run time, not here.)"""
    # (10-step samples to generate code quickly: a burn-in shorter than them, or nothing would learn)
    cfg = dataclasses.replace(preset("paper").network, burnin_ms=5.0)
    devices.select("cuda_standalone", build_dir=tmp_path / "cuda")
    dn = build_network(cfg, np.zeros((10, cfg.n_inputs)), [np.zeros((10, 11))] * 3, sample_steps=10)
    dn.run()
    devices.build(compile=False, run=False)
    devices.select("runtime", codegen_target="numpy")
    names = {p.name for p in (tmp_path / "cuda" / "code_objects").glob("*.cu")}
    for k in (1, 2, 3):
        assert any(n.startswith(f"decolle_layer{k}_kernel_gradient_summed_variable") for n in names)


@pytest.mark.slow
def test_paper_network_trains_one_shortened_sample_on_cpp_standalone(tmp_path):
    """Table 2's network (about 340 M connections, several GB) through the CLI on cpp_standalone:
    one 30 ms training sample and one 30 ms test recording of the synthetic set."""
    out = _cli("--data-dir", str(tmp_path / "synthetic_dvsgesture"), "--synthetic", "--network", "paper",
               "--train-samples", "1", "--eval-samples", "1", "--n-test", "1", "--train-ms", "30", "--test-ms", "30",
               "--burnin-ms", "5", "--init-samples", "1", "--out", str(tmp_path / "out"), timeout=6 * 3600)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["training_samples"] == 1 and summary["final_test"]["n_test"] == 1
