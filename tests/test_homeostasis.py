"""The homeostasis of excitability (equations/homeostasis.eqs): each neuron's h follows its target rate.

On the runtime device (numpy). cpp_standalone runs it in test_convolution.py's runtime-vs-C++ test
(conv, max-pool, replicas) and in test_sweep.py's tiny MNIST runs (shared builds, checkpoints, LSUV)."""
import brian2 as b2
import numpy as np
import pytest

from brian_decolle import devices
from brian_decolle.checks import ConfigError
from brian_decolle.config import NetworkConfig
from brian_decolle.network import build_network

DT = 1e-3
TARGET_HZ, TAU_H, WINDOW = 50.0, 0.05, 0.02


def _config(**kw):
    base = dict(n_inputs=6, layer_sizes=(5, 3), readout_sizes=3, lr=0.01, dropout=0.0, seed=2,
                homeostasis_tau_s=TAU_H, homeostasis_hz=TARGET_HZ, homeostasis_window_s=WINDOW)
    return NetworkConfig(**{**base, **kw})


def _inputs(cfg, n_steps, rate=0.2, seed=0):
    rng = np.random.default_rng(seed)
    spikes = (rng.random((n_steps, cfg.batch * cfg.n_inputs)) < rate).astype(float)
    targets = [rng.random((n_steps, cfg.batch * 3)) for _ in cfg.layers]
    return spikes, targets


@pytest.mark.quick
def test_h_and_the_rate_estimate_follow_their_equations_across_replicas():
    """Two replicas share each neuron's h: nu takes their mean spike count of every step, h moves by
    (1 - nu/nu_target) dt/tau_h, and every replica's neuron adds its unit's h of the step before to u."""
    devices.select("runtime", codegen_target="numpy")
    cfg = _config(batch=2)
    n_steps, n = 200, 5
    dn = build_network(cfg, *_inputs(cfg, n_steps), record_state=("u", "isyn", "r", "b", "h"), record_spikes=True)
    units = dn.layers[0].homeostasis
    mon = b2.StateMonitor(units, ["h", "nu"], record=True, when="end", order=97)
    dn.network.add(mon)
    dn.run(seed=0)
    counts = np.zeros((n_steps, n))
    for replica in range(2):
        counts += dn.spikes(1)[:, replica * n:(replica + 1) * n]
    nu, h = np.full(n, TARGET_HZ), np.zeros(n)
    want_nu, want_h = [], []
    for t in range(n_steps):
        nu = nu + (counts[t] / (2 * DT) - nu) * DT / WINDOW
        h = h + (1 - nu / TARGET_HZ) * DT / TAU_H
        want_nu.append(nu)
        want_h.append(h)
    np.testing.assert_allclose(mon.nu_[:].T, want_nu, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(mon.h[:].T, want_h, rtol=1e-12, atol=1e-12)
    assert 0 < counts.sum() and np.ptp(mon.h[:].T[-1]) > 0.1, "the units' rates differed, and so do their h"
    h_neurons = dn.state(1, "h")
    np.testing.assert_array_equal(h_neurons[1:], np.tile(mon.h[:].T[:-1], 2))
    np.testing.assert_array_equal(dn.state(1, "u"), dn.state(1, "isyn") + dn.state(1, "r") + dn.state(1, "b")
                                  + h_neurons)
    assert set(dn.learned_state()) >= {"layer1_h", "layer1_nu", "layer2_h", "layer2_nu"}


@pytest.mark.quick
def test_silent_and_saturated_neurons_move_toward_the_target_rate_while_learning_only():
    """Biases that silence one neuron and saturate another: with the homeostasis both fire closer to the
    target after 1.5 s; with learning off h stays, and a network for testing only fires alike."""
    devices.select("runtime", codegen_target="numpy")
    cfg = _config(lr=0.0, homeostasis_tau_s=0.1)
    n_steps = 1500
    spikes, targets = _inputs(cfg, n_steps)
    dn = build_network(cfg, spikes, targets, record_spikes=True)
    state = dn.learned_state(initial=True)
    state["layer1_b"] = np.array([-3.0, 3.0, 0.0, 0.0, 0.0])
    dn.run(state=state, seed=0)
    fired = dn.spikes(1)
    first, last = fired[:200].mean(0) / DT, fired[-200:].mean(0) / DT
    assert first[0] == 0 and last[0] > 5, (first[0], last[0])
    assert first[1] > 2 * TARGET_HZ and last[1] < first[1] / 2, (first[1], last[1])
    trained = dn.learned_state()
    assert trained["layer1_h"][0] > 0 > trained["layer1_h"][1]

    frozen = build_network(cfg, spikes[:300], [t[:300] for t in targets], record_spikes=True, record_state=("u",))
    frozen.run(learn=False, state=trained, seed=0)
    assert np.array_equal(frozen.learned_state()["layer1_h"], trained["layer1_h"]), "a test leaves h as it was"
    tester = build_network(cfg, spikes[:300], [t[:300] for t in targets], record_spikes=True, plastic=False)
    tester.run(learn=False, state=trained, seed=0)
    for k in (1, 2):
        assert np.array_equal(tester.spikes(k), frozen.spikes(k))
    assert frozen.state(1, "u")[:, 0].max() > -1, "the silenced neuron (b = -3) sits near threshold with its h"


@pytest.mark.quick
@pytest.mark.parametrize("change, message", [
    ({"homeostasis_tau_s": -1.0}, "homeostasis_tau_s=-1.0"),
    ({"homeostasis_hz": 0.0}, "homeostasis_hz=0.0"),
    ({"homeostasis_window_s": -0.5}, "homeostasis_window_s=-0.5"),
])
def test_bad_homeostasis_settings_are_refused(change, message):
    with pytest.raises(ConfigError, match=message):
        _config(**change)


@pytest.mark.quick
def test_a_neuron_file_without_h_is_refused_only_with_the_homeostasis_on(tmp_path):
    from brian_decolle import equations as eq
    text = eq._equations_dir().joinpath("neuron_discrete.eqs").read_text()
    own = tmp_path / "own.eqs"
    own.write_text(text.replace("u = isyn + r + b + h : 1", "u = isyn + r + b : 1"))
    with pytest.raises(ConfigError) as err:
        _config(neuron_equations=str(own))
    assert "needs a neuron whose u adds the excitability h" in str(err.value) and "own.eqs" in str(err.value)
    assert _config(neuron_equations=str(own), homeostasis_tau_s=0.0).homeostasis_tau_s == 0.0


@pytest.mark.parametrize("device", [pytest.param("runtime", marks=pytest.mark.quick), "cpp_standalone"])
def test_a_network_for_testing_only_fires_with_the_saved_h(device, tmp_path):
    """A test-only build (plastic=False, no homeostasis code but the copy of h) given a state whose h lifts
    one neuron and silences another fires as the plastic build does with learning off, on both devices."""
    cfg = _config(lr=0.0)
    spikes, targets = _inputs(cfg, 150)
    state = build_network(cfg, spikes, targets).learned_state(initial=True)
    state["layer1_h"] = np.array([3.0, -3.0, 0.0, 0.0, 0.0])
    fired = []
    for plastic in (True, False):
        devices.select(device, build_dir=tmp_path / f"plastic{plastic}", codegen_target="numpy")
        dn = build_network(cfg, spikes, targets, record_spikes=True, plastic=plastic)
        dn.run(learn=False, state=state, seed=0)
        devices.build()
        fired.append(dn.spikes(1))
        devices.select("runtime", codegen_target="numpy")
    assert np.array_equal(fired[0], fired[1])
    assert fired[1][:, 0].sum() > 100 and fired[1][:, 1].sum() == 0, fired[1].sum(axis=0)
