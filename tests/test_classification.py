"""The online classifier: one build for many runs, repeatable seeds, checkpoints and resume,
and a standalone build folder that keeps its size however many runs follow."""
import json
import shutil

import numpy as np
import pytest
from conftest import SHARES_TRAINED

from brian_decolle import ConfigError, ConvLayer, NetworkConfig, build_network
from brian_decolle import devices
from brian_decolle.devices import Target
from brian_decolle.classifier import votes
from brian_decolle.training import Schedule, read_checkpoint, train_and_test

RUNTIME = Target("runtime", codegen_target="numpy")


class Stripes:
    """A tiny synthetic task: class c drives rows 2c, 2c+1 of a 4x6x6 input harder."""

    n_classes, n_train, n_test = 3, 12, 6

    def _x(self, label, n, rng):
        rates = np.full((4, 6, 6), 0.02)
        rates[:, 2 * label:2 * label + 2, :] = 0.3
        return (rng.random((n, 4 * 36)) < rates.ravel()).astype(float), label

    def train_sample(self, index, n_steps, seed):
        return self._x(index % 3, n_steps, np.random.default_rng(seed))

    def test_sample(self, index, n_steps):
        return self._x(index % 3, n_steps, np.random.default_rng(10_000 + index))


CFG = NetworkConfig(n_inputs=144, input_shape=(4, 6, 6), conv_layers=(ConvLayer(4, 3, 1, 2),), layer_sizes=(12,),
                    readout_sizes=3, batch=2, lr=0.01, burnin_ms=5, dropout=0.2, weight_scale=3.0)
#: (LSUV runs on the runtime device rebuild the network for each of its measurements: the fewest that
#: still take every step of it, one scaling and the rate shift per layer; test_health.py tests what LSUV reaches)
SCHEDULE = Schedule(train_ms=40, test_ms=60, train_samples=16, eval_every=8, eval_samples=3, checkpoint_every=4,
                    n_raster=8, init_samples=2, init_iterations=1)


def _learned(folder):
    with np.load(folder / "learned.npz") as f:
        return {k: f[k] for k in f.files}


@SHARES_TRAINED
def test_runtime_and_cpp_standalone_train_alike(trained, tmp_path):
    """Same seeds, same dropout masks, same learned weights on both devices (one C++ build; the runtime
    device's run is conftest's uninterrupted one)."""
    lines = []
    history = train_and_test(CFG, SCHEDULE, Stripes(), tmp_path, target=Target("cpp_standalone"), report=lines.append)
    _, on_runtime = read_checkpoint(trained / "checkpoint.npz")
    a, b = _learned(trained), _learned(tmp_path)
    for name in a:
        assert np.max(np.abs(a[name] - b[name])) <= 1e-9, name
    initial = build_network(CFG, np.zeros((1, 288)), [np.zeros((1, 6))] * 2, plastic=False).learned_state(initial=True)
    assert np.max(np.abs(a["layer1_w"] - initial["layer1_w"])) > 1e-2, "learning must have moved the kernels"
    assert [e["accuracy"] for e in on_runtime["evaluations"]] == [e["accuracy"] for e in history["evaluations"]]
    assert any("trained 16/16 samples" in line for line in lines)
    # every test ran on the test-only build, compiled once beside the training build
    assert sum(line.startswith("built a network for testing only") for line in lines) == 1
    for folder in ("build", "build_test"):
        assert (tmp_path / folder / "main").is_file(), folder
    # the raster's random layer-1 units: distinct, fixed by the seed, the same on both devices
    samples = {device: np.load(folder / "test_sample.npz") for device, folder in
               (("runtime", trained), ("cpp_standalone", tmp_path))}
    units = samples["runtime"]["layer1_random_units"]
    assert len(set(units)) == SCHEDULE.n_raster and list(units) == sorted(units)
    for key in ("layer1_random_units", "layer1_random_spikes", "layer1_spikes", "layer1_units"):
        np.testing.assert_array_equal(samples["runtime"][key], samples["cpp_standalone"][key], err_msg=key)
    assert samples["runtime"]["layer1_random_spikes"].shape == (SCHEDULE.steps(CFG).test, SCHEDULE.n_raster)


@SHARES_TRAINED
def test_resume_continues_exactly(trained, tmp_path):
    """Interrupted after 8 samples and resumed, a run ends with the weights of an uninterrupted one."""
    class Stop(Exception):
        pass

    def stop_at_8(line):
        if line.startswith("trained 8/"):
            raise Stop

    with pytest.raises(Stop):
        train_and_test(CFG, SCHEDULE, Stripes(), tmp_path / "cut", target=RUNTIME,
                       report=stop_at_8)
    saved = np.load(tmp_path / "cut" / "checkpoint.npz")
    assert json.loads(str(saved["history"]))["samples_done"] == 4  # the last checkpoint before the cut
    lines = []
    train_and_test(CFG, SCHEDULE, Stripes(), tmp_path / "cut", target=RUNTIME,
                   resume=True, report=lines.append)
    assert "resuming after 4 training samples" in lines and not any("LSUV" in line for line in lines)
    whole, cut = _learned(trained), _learned(tmp_path / "cut")
    for name in whole:
        np.testing.assert_array_equal(whole[name], cut[name])


@SHARES_TRAINED
def test_resume_refuses_other_settings(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "run")
    other = Schedule(**{**SCHEDULE.__dict__, "train_samples": 24})
    with pytest.raises(ConfigError, match="other settings"):
        train_and_test(CFG, other, Stripes(), tmp_path / "run", target=RUNTIME, resume=True,
                       report=lambda line: None)


def test_votes_are_the_majority_after_burn_in():
    y = np.zeros((10, 2, 3))
    y[:4, :, 0] = 5.0       # burn-in: ignored
    y[4:, 0, 1] = 1.0       # sample 0: class 1 at every later step
    y[4:7, 1, 2] = 1.0      # sample 1: class 2 for 3 steps ...
    y[7:, 1, 0] = 1.0       # ... class 0 for 3 steps: tie, the lower class wins
    y[9, 1, 2] = 2.0        # one more step for class 2
    assert votes(y, 4).tolist() == [1, 2]


def test_schedule_packs_training_windows():
    cfg = NetworkConfig(n_inputs=2, layer_sizes=(2,), readout_sizes=2, burnin_ms=50)
    assert Schedule(500, 1000).windows(cfg) == [(0, 500), (500, 500)]
    assert Schedule(500, 1800).windows(cfg) == [(0, 500), (500, 500), (1000, 500), (1500, 300)]
    assert Schedule(500, 1020).windows(cfg) == [(0, 500), (500, 500)]  # a 20-step rest is dropped
    fine = NetworkConfig(n_inputs=2, layer_sizes=(2,), readout_sizes=2, burnin_ms=50, dt_ms=0.5)
    assert Schedule(500, 1000).windows(fine) == [(0, 1000), (1000, 1000)]  # steps of dt_ms


def test_intermediate_tests_fall_evenly_or_doubling():
    even, doubling = Schedule(eval_every=250), Schedule(eval_every=250, eval_spacing="doubling")
    assert [even.next_evaluation(done) for done in (0, 249, 250, 600)] == [250, 250, 500, 750]
    assert [doubling.next_evaluation(done) for done in (0, 250, 256, 600, 1000, 2100)] == [250, 500, 500, 1000,
                                                                                            2000, 4000]


@pytest.mark.parametrize("kw,match", [(dict(train_ms=5), "train_ms=5 must exceed the burn-in"),
                                      (dict(test_ms=4), "test_ms=4 must exceed the burn-in"),
                                      (dict(train_samples=0), "train_samples"),
                                      (dict(eval_spacing="log"), "eval_spacing='log' is not allowed")])
def test_bad_schedule(kw, match):
    with pytest.raises(ConfigError, match=match):
        Schedule(**{**SCHEDULE.__dict__, **kw}).steps(CFG)


class Counts:
    """Two classes of dense input: class c fires inputs c*5 .. c*5+4 more often."""

    n_classes, n_train, n_test = 3, 4, 2

    def _x(self, label, n, rng):
        rates = np.full(15, 0.02)
        rates[5 * label:5 * label + 5] = 0.4
        return (rng.random((n, 15)) < rates).astype(float), label

    def train_sample(self, index, n_steps, seed):
        return self._x(index % 3, n_steps, np.random.default_rng(seed))

    def test_sample(self, index, n_steps):
        return self._x(index % 3, n_steps, np.random.default_rng(50 + index))


def test_batch_one_output_layer_trains_on_cpp_standalone(tmp_path):
    """Batch 1, dense layers whose output group is their neuron group, the last a non-spiking
    output layer: each learning group gets one lr through one run-args dict; runtime agrees."""
    cfg = NetworkConfig(n_inputs=15, layer_sizes=(10, 3), readout_sizes=3, output_layer=True, batch=1, lr=0.01,
                        burnin_ms=2, dropout=0.3, weight_scale=3.0)
    schedule = Schedule(train_ms=20, test_ms=30, train_samples=4, eval_every=4, eval_samples=2, checkpoint_every=4,
                        n_raster=4)
    learned = {}
    for device in ("cpp_standalone", "runtime"):
        history = train_and_test(cfg, schedule, Counts(), tmp_path / device, target=Target(device, codegen_target="numpy"),
                                 report=lambda line: None)
        assert history["samples_done"] == 4 and history["evaluations"][-1]["final"]
        learned[device] = _learned(tmp_path / device)
    for name, values in learned["runtime"].items():
        assert np.max(np.abs(values - learned["cpp_standalone"][name])) <= 1e-9, name
    initial = build_network(cfg, np.zeros((1, 15)), [np.zeros((1, 3))] * 2, plastic=False).learned_state(initial=True)
    assert np.max(np.abs(learned["runtime"]["layer2_w"] - initial["layer2_w"])) > 1e-4


def test_standalone_build_folder_keeps_its_size(tmp_path):
    """20 re-runs of one compiled build with new inputs: the folder grows by less than 1 MB
    after the first run (each run's run-args files are deleted; results are overwritten)."""
    cfg = NetworkConfig(n_inputs=60, layer_sizes=(10,), readout_sizes=3, burnin_ms=2)
    n = 1000  # each run's new inputs alone are 480 kB: 20 runs would leave 9.6 MB
    devices.select("cpp_standalone", build_dir=tmp_path / "build")
    dn = build_network(cfg, np.zeros((n, 60)), [np.zeros((n, 3))], sample_starts=np.eye(1, n)[0],
                       record_readout=("y",))
    dn.run(seed=0)
    devices.build(run=False)

    def folder_bytes():
        return sum(p.stat().st_size for p in (tmp_path / "build").rglob("*") if p.is_file())

    rng = np.random.default_rng(0)
    sizes, state = [], dn.learned_state(initial=True)
    for k in range(20):
        dn.run_again(seed=k, state=state, spikes=(rng.random((n, 60)) < 0.2).astype(float),
                     targets=[rng.random((n, 3))], sample_starts=np.eye(1, n)[0])
        state = dn.learned_state()
        sizes.append(folder_bytes())
    assert max(sizes) <= sizes[0] + 1_000_000, sizes
    left = [p.name for p in (tmp_path / "build" / "static_arrays").glob("init_*.dat")]
    assert not left, f"run-args files left behind: {left[:3]}"


def test_learning_rate_drops_reach_the_network(tmp_path, monkeypatch):
    """With a drop by 1e-12 after 4 samples, the first training run (4 samples) moves the kernels and the
    second leaves them where the first did."""
    from brian_decolle import training
    dropped = Schedule(**{**SCHEDULE.__dict__, "train_samples": 8, "eval_samples": 1, "lr_drop_every": 4,
                          "lr_drop_factor": 1e-12})
    real, kernels = training._Runs.train, []

    def kept(self, samples, state, **kwargs):
        after = real(self, samples, state, **kwargs)
        if kwargs["learn"]:   # (LSUV's measurements run with learn=False)
            kernels.append((state["layer1_w"].copy(), after[0]["layer1_w"].copy()))
        return after

    monkeypatch.setattr(training._Runs, "train", kept)
    history = train_and_test(CFG, dropped, Stripes(), tmp_path, target=RUNTIME, report=lambda line: None)
    assert [t["lr"] for t in history["train"]] == [CFG.lr, CFG.lr * 1e-12]
    (before_1, after_1), (before_2, after_2) = kernels
    assert np.max(np.abs(after_1 - before_1)) > 1e-3, "the first 4 samples must move the kernels"
    assert np.max(np.abs(after_2 - before_2)) < 1e-9
    np.testing.assert_array_equal(_learned(tmp_path)["layer1_w"], after_2)
    assert history["initialisation"][1]["measurements"] >= 1
    assert set(history["evaluations"][-1]["health"][0]) >= {"rate_hz", "silent_fraction", "u_mean", "u_std"}
