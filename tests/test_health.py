"""Data-driven initialisation (LSUV), learning-rate drops and the health report."""
import numpy as np
import pytest

from brian_decolle import ConvLayer, NetworkConfig
from brian_decolle.classifier import OnlineClassifier
from brian_decolle.devices import Target
from brian_decolle.health import Activity, layer_health, warnings
from brian_decolle.initialisation import lsuv, orthogonal
from brian_decolle.training import Schedule

CFG = NetworkConfig(n_inputs=64, input_shape=(1, 8, 8), conv_layers=(ConvLayer(4, 3, 1, 2),), layer_sizes=(12,),
                    readout_sizes=3, burnin_ms=5, weight_scale=2.0, seed=3)
STEPS = 60

#: (the module's tests share one compiled classifier: one worker runs them all, and the fixture lives for the
#: worker's session, since a module fixture is built again whenever the worker's order interleaves modules)
pytestmark = pytest.mark.xdist_group("health")


@pytest.fixture(scope="session")
def clf(tmp_path_factory):
    """One compiled classifier for every test of this module: each measurement re-runs it with its state
    (on the runtime device each run would build the network anew)."""
    target = Target("cpp_standalone", str(tmp_path_factory.mktemp("health") / "build"))
    return OnlineClassifier(CFG, 3, STEPS, target=target, n_raster=4)


def _measure(clf, n_runs=2):
    """Activity of the network on fixed 20 % Poisson input, learning and dropout off."""
    rng = np.random.default_rng(0)
    inputs = [(rng.random((STEPS, 64)) < 0.2).astype(float) for _ in range(n_runs)]

    def measure(state):
        activity = Activity(CFG)
        for x in inputs:
            *_, recorded = clf.run(x, np.full((STEPS, 1), -1), np.eye(1, STEPS)[0], state, learn=False, seed=0)
            activity.add(recorded, 1, STEPS)
        return activity
    return measure


def test_orthogonal_rows():
    w = orthogonal((4, 2, 3, 3), np.random.default_rng(0)).reshape(4, 18)
    np.testing.assert_allclose(w @ w.T, np.eye(4), atol=1e-12)
    tall = orthogonal((30, 5), np.random.default_rng(0))
    np.testing.assert_allclose(tall.T @ tall, np.eye(5), atol=1e-12)


def test_lsuv_gives_unit_std_and_zero_mean_membranes(clf):
    measure = _measure(clf)
    lines = []
    state, log = lsuv(clf.dn, clf.initial_state(), measure, tolerance=0.1, iterations=10, seed=0, report=lines.append)
    after = measure(state)
    for layer in range(1, CFG.n_layers + 1):
        mean, std = after.membrane(layer)
        assert abs(std - 1) <= 0.1 and abs(mean) <= 0.1, (layer, mean, std)
        assert log[layer]["after"]["u_std"] == pytest.approx(std)
    assert len(lines) == 2 and "LSUV" in lines[0]
    assert abs(log[1]["before"]["u_std"] - 1) > 0.1, "the test must start away from the target"


def test_lsuv_reaches_other_targets(clf):
    measure = _measure(clf)
    state, log = lsuv(clf.dn, clf.initial_state(), measure, tolerance=0.05, iterations=10, seed=0,
                      report=lambda line: None, u_mean=-0.5, u_std=0.3)
    after = measure(state)
    for layer in range(1, CFG.n_layers + 1):
        mean, std = after.membrane(layer)
        assert abs(std - 0.3) <= 0.05 and abs(mean + 0.5) <= 0.05, (layer, mean, std)
        assert set(log[layer]["after"]) >= {"rate_median_hz", "rate_p95_hz", "fast_fraction", "silent_fraction"}


def test_lsuv_reaches_a_target_rate(clf):
    measure = _measure(clf)
    state, log = lsuv(clf.dn, clf.initial_state(), measure, tolerance=0.1, iterations=8, seed=0,
                      report=lambda line: None, u_std=0.5, rate_hz=40.0)
    after = measure(state)
    for layer in range(1, CFG.n_layers + 1):   # every channel (dense: every neuron) at the target
        assert np.all(np.abs(after.channel_rates_hz(layer) - 40.0) <= 4.0), (layer, after.channel_rates_hz(layer))
        assert log[layer]["after"]["rate_hz"] == pytest.approx(after.rate_hz(layer))
    assert abs(log[1]["before"]["rate_hz"] - 40.0) > 4.0, "the test must start away from the target"


def test_rate_distribution_counts_each_unit():
    activity = Activity(CFG)
    # layer 1: 4 channels x 4 x 4 pooled units; 100 steps of 1 ms
    counts = np.zeros(64)
    counts[:16], counts[16:20] = 50, 40       # 16 units at 500 Hz, 4 at 400 Hz, the rest silent
    reached = np.arange(64) < 48              # ... of which the last 16 no input reached
    recording = [{"counts": counts, "reached": reached, "u_sum": np.zeros(4 * 64), "u_sq": np.zeros(4 * 64),
                  "n_counted": 1},
                 {"counts": np.full(12, 2.0), "reached": np.ones(12, dtype=bool), "u_sum": np.zeros(12),
                  "u_sq": np.zeros(12), "n_counted": 1}]
    activity.add(recording, 1, 100)
    rates = activity.rates(1)
    assert rates["fast_fraction"] == 20 / 64 and rates["silent_fraction"] == 44 / 64
    assert rates["unreached_fraction"] == 16 / 64 and rates["silent_reached_fraction"] == 28 / 48
    assert rates["rate_median_hz"] == 0 and rates["rate_p95_hz"] == 500
    assert rates["rate_hz"] == pytest.approx((16 * 500 + 4 * 400) / 64)
    assert activity.rates(2) == {"rate_hz": 20.0, "rate_median_hz": 20.0, "rate_p95_hz": 20.0, "fast_fraction": 0.0,
                                 "silent_fraction": 0.0, "unreached_fraction": 0.0, "silent_reached_fraction": 0.0}
    for layer in (0, 3):   # layers are numbered from 1, as in LayerSpec.index and summary.json
        with pytest.raises(IndexError, match="layers 1 to 2"):
            activity.rates(layer)


def test_units_no_input_reaches_are_counted_apart(clf):
    """The right half of the 8x8 image stays empty: the pooled layer-1 units whose 3x3 fields (padding 1)
    see only empty columns, the last pooled column of every channel (a quarter), are reached by no input."""
    rng = np.random.default_rng(0)
    x = (rng.random((STEPS, 8, 8)) < 0.3).astype(float)
    x[:, :, 4:] = 0
    activity = Activity(CFG)
    *_, recorded = clf.run(x.reshape(STEPS, 64), np.full((STEPS, 1), -1), np.eye(1, STEPS)[0], clf.initial_state(),
                           learn=False, seed=0)
    activity.add(recorded, 1, STEPS)
    unreached = ~recorded[0]["reached"].reshape(4, 4, 4)
    assert unreached[:, :, 3].all() and not unreached[:, :, :3].any()
    assert activity.rates(1)["unreached_fraction"] == 0.25 and activity.rates(2)["unreached_fraction"] == 0.0


def test_health_warns_about_silent_and_racing_layers(clf):
    measure = _measure(clf, n_runs=1)
    state = clf.initial_state()
    silent = {**state, "layer1_b": np.full(4, -50.0), "layer2_b": np.full(12, -50.0)}
    health = layer_health(measure(silent), silent)
    assert [h["silent_fraction"] for h in health] == [1.0, 1.0]
    assert health[0]["bias_range"] == [-50.0, -50.0] and health[0]["rate_hz"] == 0
    lines = warnings(health)
    assert len(lines) == 2 and "layer 1: 100% of its units never spiked" in lines[0]
    racing = {**state, "layer1_b": np.full(4, 50.0), "layer2_b": np.full(12, 50.0)}
    health = layer_health(measure(racing), racing)
    assert health[0]["silent_fraction"] == 0 and health[0]["rate_hz"] > 900  # (refractory: not every step)
    assert any("fires at" in line for line in warnings(health))
    assert not warnings([{**h, "rate_hz": 20.0, "silent_fraction": 0.1} for h in health])
    # the non-spiking output layer (silent_fraction None) counts u > 0, not spikes: no warning
    assert not warnings([{**h, "rate_hz": 900.0, "silent_fraction": None} for h in health])


def test_learning_rate_drops_follow_the_schedule():
    cfg = NetworkConfig(n_inputs=2, layer_sizes=(2,), readout_sizes=2, lr=1e-3)
    schedule = Schedule(lr_drop_every=100, lr_drop_factor=0.5)
    assert [schedule.lr(cfg, n) for n in (0, 99, 100, 250, 300)] == [1e-3, 1e-3, 5e-4, 2.5e-4, 1.25e-4]
    assert Schedule().lr(cfg, 10 ** 6) == 1e-3
