"""Spike-driven synaptic input (equations/spike_driven.eqs) against the dense form.

With learning off the two are the same linear filter summed in a different order, so every
membrane potential agrees to rounding; with learning on they differ by when a weight acts
(at the spike, or on the whole trace), which is measured here and stated in RESULTS.md.
"""
import dataclasses

import numpy as np
import pytest

from brian_decolle import ConfigError, ConvLayer, NetworkConfig, build_network, devices
from conftest import poisson

DENSE = NetworkConfig(n_inputs=30, layer_sizes=(20, 12), readout_sizes=3, dropout=0.0, lr=2e-3,
                      weight_scale=3.0, reg_u=0.1, reg_rate=0.5, seed=3)
CONV = NetworkConfig(n_inputs=2 * 8 * 8, input_shape=(2, 8, 8), layer_sizes=(6,), readout_sizes=3,
                     conv_layers=(ConvLayer(4, kernel=3, padding=1, pool=2), ConvLayer(5, kernel=3, stride=2)),
                     batch=2, dropout=0.0, lr=2e-3, weight_scale=4.0, seed=5)


def _run(cfg, spikes, targets, learn, sample_steps=None):
    dn = build_network(cfg, spikes, targets, record_state=("u",), record_readout=("y",), record_spikes=True,
                       sample_steps=sample_steps)
    dn.run(learn=learn, seed=cfg.seed)
    return dn


@pytest.mark.parametrize("cfg", [DENSE, CONV], ids=["dense", "conv_pool_batch2"])
def test_spike_driven_equals_dense_with_learning_off(cfg, rng):
    n_steps = 120
    spikes = poisson(rng, n_steps, cfg.batch * cfg.n_inputs, 0.15)
    spikes[::7] *= 2  # some inputs carry two events in one step (DVS frames of counts)
    targets = [np.zeros((n_steps, cfg.batch * 3))] * cfg.n_layers
    dense = _run(cfg, spikes, targets, learn=False, sample_steps=60)
    driven = _run(dataclasses.replace(cfg, forward="spike_driven"), spikes, targets, learn=False, sample_steps=60)
    for k in range(1, cfg.n_layers + 1):
        assert dense.spikes(k).sum() > 10, f"layer {k} must spike for the comparison to mean something"
        np.testing.assert_array_equal(dense.spikes(k), driven.spikes(k))
        assert np.max(np.abs(dense.state(k, "u") - driven.state(k, "u"))) <= 1e-12
        assert np.max(np.abs(dense.readout(k, "y") - driven.readout(k, "y"))) <= 1e-12


def test_spike_driven_with_learning_stays_close(rng):
    """With learning on, a weight acts at the time of the spike instead of on the whole trace:
    the first steps agree, then one spike flips and the runs part, while the weights still move
    the same way (SGD; the measured values are in RESULTS.md)."""
    n_steps = 300
    cfg = dataclasses.replace(DENSE, optimiser="sgd", lr=0.05)
    spikes = poisson(rng, n_steps, cfg.n_inputs, 0.15)
    targets = [np.sin(np.arange(n_steps)[:, None] / 15 + np.arange(3))] * 2
    dense = _run(cfg, spikes, targets, learn=True)
    driven = _run(dataclasses.replace(cfg, forward="spike_driven"), spikes, targets, learn=True)
    for k in (1, 2):
        np.testing.assert_array_equal(dense.spikes(k)[:15], driven.spikes(k)[:15])
        w0 = dense.learned_state(initial=True)[f"layer{k}_w"]
        change = np.linalg.norm(dense.learned_state()[f"layer{k}_w"] - w0)
        gap = np.linalg.norm(dense.learned_state()[f"layer{k}_w"] - driven.learned_state()[f"layer{k}_w"])
        first = np.flatnonzero((dense.spikes(k) != driven.spikes(k)).any(axis=1))
        print(f"layer {k}: first differing step {first[0] if len(first) else None}, differing spike entries "
              f"{np.mean(dense.spikes(k) != driven.spikes(k)):.3f}, weight gap / change {gap / change:.3f}")
        assert change > 1e-2 and gap < 0.5 * change, (k, gap, change)


def test_spike_driven_refuses_what_it_cannot_do_exactly():
    with pytest.raises(ConfigError, match="forward='spike_driven' needs random_tau=False"):
        dataclasses.replace(DENSE, forward="spike_driven", random_tau=True)
    with pytest.raises(ConfigError, match="forward='spike_driven' needs dynamics='discrete'"):
        dataclasses.replace(DENSE, forward="spike_driven", dynamics="continuous")
    with pytest.raises(ConfigError, match="forward='sparse' is not allowed; choose one of 'dense', 'spike_driven'"):
        dataclasses.replace(DENSE, forward="sparse")


def test_spike_driven_code_for_cuda(rng, tmp_path):
    """The on_pre pathway generates CUDA code (compiled and run only where a GPU is)."""
    cfg = dataclasses.replace(DENSE, forward="spike_driven")
    devices.select("cuda_standalone", build_dir=tmp_path / "cuda")
    dn = build_network(cfg, poisson(rng, 30, cfg.n_inputs), [np.zeros((30, 3))] * 2)
    dn.run(seed=cfg.seed)
    devices.build(compile=False, run=False)
    devices.select("runtime", codegen_target="numpy")
    sources = [p.name for p in (tmp_path / "cuda" / "code_objects").glob("*.cu")]
    assert any(name.startswith("decolle_layer2_synapses_pre_codeobject") for name in sources), sorted(sources)


def test_spike_driven_on_cpp_standalone_equals_dense_runtime(rng, tmp_path):
    """The on_pre pathway through linked kernel weights, with max-pooling and two replicas, in
    generated C++: the dense forward pass of the runtime device, with learning off."""
    n_steps = 80
    spikes = poisson(rng, n_steps, CONV.batch * CONV.n_inputs, 0.15)
    targets = [np.zeros((n_steps, CONV.batch * 3))] * CONV.n_layers
    dense = _run(CONV, spikes, targets, learn=False)
    reference = [(dense.spikes(k), dense.state(k, "u")) for k in range(1, CONV.n_layers + 1)]
    devices.select("cpp_standalone", build_dir=tmp_path / "cpp")
    driven = build_network(dataclasses.replace(CONV, forward="spike_driven"), spikes, targets,
                           record_state=("u",), record_readout=("y",), record_spikes=True)
    driven.run(learn=False, seed=CONV.seed)
    devices.build()
    results = [(driven.spikes(k), driven.state(k, "u")) for k in range(1, CONV.n_layers + 1)]
    devices.select("runtime", codegen_target="numpy")
    for (s_dense, u_dense), (s_driven, u_driven) in zip(reference, results):
        assert s_dense.sum() > 10
        np.testing.assert_array_equal(s_dense, s_driven)
        assert np.max(np.abs(u_dense - u_driven)) <= 1e-12
