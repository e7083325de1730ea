"""Weights in the reference (torch) layout, bias-free layers, run settings and recordings.

(a) get_weights / set_weights: set then get returns what was set (dense batch 1 and 2, conv),
    and a forward pass with the set weights equals a numpy forward pass computed from them;
    bad shapes are refused naming the parameter; on cpp_standalone the set weights are
    used by the next run and by run_again;
(b) bias-free layers (bias=False, or one flag per layer) have no learned bias: b stays 0;
(c) parameter_values lists each (owner, variable) once, also where a layer's output
    group is its neuron group;
(d) record_kernels and record_prepool give arrays of the documented shapes and values.
"""
import numpy as np
import pytest

from brian_decolle import ConfigError, ConvLayer, NetworkConfig, build_network, devices
from conftest import poisson
from test_convolution import CONVS, SHAPE, correlate, max_pool
from test_forward import transcribe

N_STEPS, N_IN, N_OUT = 60, 12, 3


def _dense_config(**kw):
    base = dict(n_inputs=N_IN, layer_sizes=(10, 8), readout_sizes=N_OUT, lr=0.0, dropout=0.0, seed=1)
    base.update(kw)
    return NetworkConfig(**base)


def _targets(cfg, n_steps=N_STEPS):
    return [np.sin(np.arange(n_steps)[:, None] / 6.0 + np.arange(cfg.batch * spec.readout_size))
            for spec in cfg.layers]


def _random_weights(rng, current, scale):
    """New values of every array get_weights returned, in its shapes; w scaled by 1/sqrt(fan_in)."""
    new = {name: rng.uniform(-1, 1, value.shape) for name, value in current.items()}
    new["w"] *= scale / np.sqrt(np.prod(current["w"].shape[1:]))
    return new


def _alphas(dn):
    return [(np.asarray(g.alpha[:]), np.asarray(g.alpha_s[:]))
            for g in [dn.inputs] + [layer.output for layer in dn.layers]]


def _check_dense_forward(dn, spikes, weights, biases, replica=0):
    """Recorded u, spikes and readouts of one replica against the numpy transcription."""
    cfg = dn.cfg
    n_in = cfg.n_inputs
    alphas = [(a[replica * (len(a) // cfg.batch):][:len(a) // cfg.batch],
               s[replica * (len(s) // cfg.batch):][:len(s) // cfg.batch]) for a, s in _alphas(dn)]
    ref = transcribe(spikes[:, replica * n_in:(replica + 1) * n_in], [w.T for w in weights], biases,
                     alphas, cfg.alpha_r, cfg.w_rp)
    for k, spec in enumerate(cfg.layers, start=1):
        units = slice(replica * spec.n_units, (replica + 1) * spec.n_units)
        out = slice(replica * spec.readout_size, (replica + 1) * spec.readout_size)
        assert ref["s"][k - 1].sum() > 20, "the test needs spiking layers"
        assert np.array_equal(dn.spikes(k)[:, units], ref["s"][k - 1])
        assert np.max(np.abs(dn.state(k, "u")[:, units] - ref["u"][k - 1])) <= 1e-9
        g, c = dn.get_weights(k)["g"], dn.get_weights(k)["c"]
        y = ref["s"][k - 1] @ g.T + c  # readout of the spikes, no dropout: y = g s + c
        assert np.max(np.abs(dn.readout(k, "y")[:, out] - y)) <= 1e-9


# ---- (a) get_weights / set_weights ------------------------------------------------------

@pytest.mark.parametrize("batch", [1, 2])
def test_dense_set_weights_round_trip_and_forward(rng, batch):
    cfg = _dense_config(batch=batch)
    spikes = poisson(rng, N_STEPS, batch * N_IN, 0.3)
    dn = build_network(cfg, spikes, _targets(cfg), record_state=("u",), record_readout=("y",),
                       record_spikes=True)
    new = {}
    for k, spec in enumerate(cfg.layers, start=1):
        current = dn.get_weights(k)
        assert {name: v.shape for name, v in current.items()} == {
            "w": (spec.n_units, spec.fan_in), "b": (spec.n_units,), "g": (N_OUT, spec.n_units), "c": (N_OUT,)}
        new[k] = _random_weights(rng, current, scale=4.0)
        dn.set_weights(k, **new[k])
        got = dn.get_weights(k)
        for name, value in new[k].items():
            assert np.abs(value - current[name]).max() > 0.01, "the new values must differ from the old"
            np.testing.assert_array_equal(got[name], value)
    dn.run(seed=cfg.seed)
    for replica in range(batch):
        _check_dense_forward(dn, spikes, [new[k]["w"] for k in (1, 2)], [new[k]["b"] for k in (1, 2)], replica)
    for k in (1, 2):  # lr = 0: the run kept them
        for name, value in dn.get_weights(k).items():
            np.testing.assert_array_equal(value, new[k][name])


def test_dense_set_weights_reaches_the_synapses_in_the_reference_layout(rng):
    """w[i, j] (out i, in j) is the weight of the synapse from input j to neuron i."""
    cfg = _dense_config(layer_sizes=(4,))
    dn = build_network(cfg, np.zeros((5, N_IN)), [np.zeros((5, N_OUT))])
    w = rng.normal(size=(4, N_IN))
    dn.set_weights(1, w=w)
    syn = dn.layers[0].synapses
    np.testing.assert_array_equal(np.asarray(syn.w[:]), w[np.asarray(syn.j[:]), np.asarray(syn.i[:])])


def test_conv_set_weights_round_trip_and_forward(rng):
    """Strided, padded conv with a max-pool, then a conv and a dense layer, all with set weights."""
    convs = CONVS["stride2_pad1_pool2"]
    cfg = NetworkConfig(n_inputs=int(np.prod(SHAPE)), input_shape=SHAPE, conv_layers=convs, layer_sizes=(5,),
                        readout_sizes=4, w_rp=0.0, lr=0.0, dropout=0.0, seed=3)
    spec1, spec2, spec3 = cfg.layers
    spikes = (rng.random((40, spec1.n_inputs)) < 0.3).astype(float)
    dn = build_network(cfg, spikes, _targets(cfg, 40), record_state=("p", "u"), record_prepool=("u",),
                       record_readout=("y",), record_spikes=True)
    new = {}
    for k, spec in enumerate(cfg.layers, start=1):
        current = dn.get_weights(k)
        if spec.is_conv:
            assert current["w"].shape == (spec.channels, spec.input_shape[0], spec.kernel, spec.kernel)
        assert current["b"].shape == (spec.channels,) and current["g"].shape == (4, spec.n_outputs)
        new[k] = _random_weights(rng, current, scale=6.0)
        dn.set_weights(k, **new[k])
        for name, value in dn.get_weights(k).items():
            np.testing.assert_array_equal(value, new[k][name])
    dn.run(seed=cfg.seed)
    p_in = dn.state(0, "p").reshape(40, *SHAPE)
    worst = 0.0
    for t in range(40):
        u1 = correlate(p_in[t], new[1]["w"], convs[0].padding, convs[0].stride) + new[1]["b"][:, None, None]
        worst = max(worst, np.abs(dn.prepool(1, "u")[t] - u1.ravel()).max(),
                    np.abs(dn.state(1, "u")[t] - max_pool(u1, convs[0].pool).ravel()).max())
        p1 = dn.state(1, "p")[t].reshape(spec1.output_shape)
        u2 = correlate(p1, new[2]["w"], convs[1].padding, convs[1].stride) + new[2]["b"][:, None, None]
        worst = max(worst, np.abs(dn.state(2, "u")[t] - u2.ravel()).max())
        u3 = new[3]["w"] @ dn.state(2, "p")[t] + new[3]["b"]
        worst = max(worst, np.abs(dn.state(3, "u")[t] - u3).max())
        y1 = new[1]["g"] @ dn.spikes(1)[t] + new[1]["c"]
        worst = max(worst, np.abs(dn.readout(1, "y")[t] - y1).max())
    print(f"max abs error of the forward pass with set weights: {worst:.3g}")
    assert worst <= 1e-9
    for k in (1, 2, 3):
        assert dn.spikes(k).sum() > 10, "the test needs spiking layers"


def test_set_weights_bad_values_name_the_parameter():
    cfg = NetworkConfig(n_inputs=int(np.prod(SHAPE)), input_shape=SHAPE, conv_layers=(ConvLayer(3, kernel=3),),
                        layer_sizes=(4,), readout_sizes=2, bias=(True, False))
    dn = build_network(cfg, np.zeros((5, cfg.n_inputs)), [np.zeros((5, 2))] * 2)
    spec1, spec2 = cfg.layers
    bad = [
        (1, dict(w=np.zeros((2, 3, 3, 3))), r"w of layer 1 .*\(3, 2, 3, 3\)"),  # the stored (in, out) order
        (1, dict(b=np.zeros(4)), r"b of layer 1 .*\(3,\)"),
        (1, dict(g=np.zeros((spec1.n_outputs, 2))), r"g of layer 1 .*\(2, %d\)" % spec1.n_outputs),  # transposed
        (1, dict(c=np.zeros(3)), r"c of layer 1"),
        (2, dict(w=np.zeros((spec2.n_inputs, 4))), r"w of layer 2 .*\(4, %d\)" % spec2.n_inputs),  # (in, out)
        (2, dict(w=np.full((4, spec2.n_inputs), np.nan)), r"w of layer 2 must be a finite array"),
        (2, dict(b=np.zeros(4)), r"layer 2 has no bias"),
        (3, dict(c=np.zeros(2)), r"layer=3"),
    ]
    before = {k: dn.get_weights(k) for k in (1, 2)}
    for layer, values, match in bad:
        with pytest.raises(ConfigError, match=match):
            dn.set_weights(layer, **values)
    for k in (1, 2):  # nothing was half-set
        for name, value in dn.get_weights(k).items():
            np.testing.assert_array_equal(value, before[k][name])


def test_cpp_standalone_set_weights_before_a_run_and_run_again(rng, tmp_path):
    """On cpp_standalone, set_weights acts at the next run: the first run uses the set weights
    (its forward pass equals numpy's from them, and they are read back unchanged with learning
    off), and run_again with other set weights uses those, without recompiling."""
    cfg = _dense_config(lr=0.05, dropout=0.3)
    spikes = poisson(rng, N_STEPS, N_IN, 0.3)
    devices.select("cpp_standalone", build_dir=tmp_path / "cpp")
    dn = build_network(cfg, spikes, _targets(cfg), record_state=("u",), record_readout=("y",),
                       record_spikes=True)
    initial = dn.learned_state(initial=True)
    new = {1: _random_weights(rng, {"w": np.zeros((10, N_IN)), "b": np.zeros(10)}, scale=4.0),
           2: _random_weights(rng, {"w": np.zeros((8, 10)), "g": np.zeros((N_OUT, 8)), "c": np.zeros(N_OUT)},
                              scale=4.0)}
    for k in (1, 2):
        dn.set_weights(k, **new[k])
    dn.run(learn=False, seed=cfg.seed)
    devices.build()
    first = {k: dn.get_weights(k) for k in (1, 2)}
    b2_initial = initial["layer2_b"]
    _check_dense_forward(dn, spikes, [new[1]["w"], new[2]["w"]], [new[1]["b"], b2_initial])
    w1_again = _random_weights(rng, {"w": np.zeros((10, N_IN))}, scale=4.0)["w"]
    dn.set_weights(1, w=w1_again)
    dn.run_again(seed=cfg.seed, learn=False)
    again = {k: dn.get_weights(k) for k in (1, 2)}
    _check_dense_forward(dn, spikes, [w1_again, new[2]["w"]], [new[1]["b"], b2_initial])
    devices.select("runtime", codegen_target="numpy")
    for k in (1, 2):
        for name, value in new[k].items():
            np.testing.assert_array_equal(first[k][name], value)
    np.testing.assert_array_equal(first[2]["b"], b2_initial)
    np.testing.assert_array_equal(again[1]["w"], w1_again)
    np.testing.assert_array_equal(again[2]["w"], new[2]["w"])


# ---- (b) bias-free layers ----------------------------------------------------------------

def _runner_names(dn):
    return {o.name for g in dn.network.objects for o in [g, *getattr(g, "contained_objects", [])]}


def test_bias_free_dense_network_keeps_b_at_zero(rng):
    cfg = _dense_config(bias=False, lr=0.05, optimiser="adamax", dropout=0.3, weight_scale=3.0)
    assert [spec.bias for spec in cfg.layers] == [False, False]
    dn = build_network(cfg, poisson(rng, N_STEPS, N_IN, 0.3), _targets(cfg), record_state=("b", "u"),
                       record_spikes=True)
    assert set(dn.learned) == {"layer1_w", "layer1_w_norm", "layer2_w", "layer2_w_norm"}
    names = _runner_names(dn)
    assert {"decolle_layer1_synapses_w_update", "decolle_layer2_synapses_w_update"} <= names
    assert not any(name.endswith("_b_update") for name in names), sorted(names)
    start = [dn.get_weights(k)["w"] for k in (1, 2)]
    dn.run(seed=cfg.seed)
    for k in (1, 2):
        weights = dn.get_weights(k)
        assert set(weights) == {"w", "g", "c"}
        assert np.all(dn.state(k, "b") == 0) and np.all(np.asarray(dn.layers[k - 1].neurons.b[:]) == 0)
        assert dn.spikes(k).sum() > 20
        assert np.abs(weights["w"] - start[k - 1]).max() > 1e-3, "learning must have moved the weights"
    with pytest.raises(ConfigError, match="layer 1 has no bias"):
        dn.set_weights(1, b=np.zeros(10))


def test_bias_per_layer_conv_batch(rng):
    """bias=(False, True, False) on conv(+pool), conv, dense shared by two replicas: only layer 2 learns a bias."""
    cfg = NetworkConfig(n_inputs=int(np.prod(SHAPE)), input_shape=SHAPE, conv_layers=CONVS["stride1_pad1_pool2"],
                        layer_sizes=(5,), readout_sizes=4, weight_scale=(6.0, 4.0, 3.0), readout_amplitude=2.0,
                        batch=2, bias=(False, True, False), optimiser="sgd", lr=0.05, dropout=0.0, seed=3)
    assert [spec.bias for spec in cfg.layers] == [False, True, False]
    spikes = (rng.random((40, 2 * cfg.n_inputs)) < 0.3).astype(float)
    dn = build_network(cfg, spikes, _targets(cfg, 40), record_state=("b",), record_prepool=("b",))
    assert set(dn.learned) == {"layer1_w", "layer2_w", "layer2_b", "layer3_w"}
    names = _runner_names(dn)
    assert "decolle_layer2_bias_b_update" in names
    assert "decolle_layer1_bias_b_update" not in names and "decolle_layer3_bias_b_update" not in names
    b2_start = dn.get_weights(2)["b"].copy()
    dn.run(seed=cfg.seed)
    assert "b" not in dn.get_weights(1) and "b" not in dn.get_weights(3)
    for b in (dn.prepool(1, "b"), dn.state(1, "b"), dn.state(3, "b"),
              np.asarray(dn.layers[0].bias.b[:]), np.asarray(dn.layers[2].bias.b[:])):
        assert np.all(b == 0)
    b2_trace = dn.state(2, "b")
    assert np.abs(dn.get_weights(2)["b"] - b2_start).max() > 1e-3, "layer 2's bias must learn"
    assert np.abs(b2_trace[-1] - b2_trace[0]).max() > 1e-3


# ---- (c) parameter_values ----------------------------------------------------------------

def _output_layer_net():
    cfg = NetworkConfig(n_inputs=6, layer_sizes=(5, 3), readout_sizes=(2, 3), output_layer=True, lr=0.01)
    return cfg, build_network(cfg, np.zeros((8, 6)), [np.zeros((8, 2)), np.zeros((8, 3))], sample_steps=4)


def _conv_pool1_net():
    cfg = NetworkConfig(n_inputs=2 * 5 * 5, input_shape=(2, 5, 5), conv_layers=(ConvLayer(2, kernel=3),),
                        layer_sizes=(3,), readout_sizes=2, lr=0.01)
    return cfg, build_network(cfg, np.zeros((8, 50)), [np.zeros((8, 2))] * 2, sample_steps=4)


@pytest.mark.parametrize("make", [_output_layer_net, _conv_pool1_net], ids=["output_layer", "conv_pool1"])
def test_parameter_values_list_each_variable_once(make):
    cfg, dn = make()
    assert any(layer.output is layer.neurons for layer in dn.layers)
    settings = dict(state=dn.learned_state(), spikes=np.ones((8, cfg.n_inputs)),
                    targets=[np.ones((8, spec.readout_size)) for spec in cfg.layers], sample_starts=np.ones(8))
    for learn in (True, False):
        values = dn.parameter_values(learn=learn, **settings)
        keys = [(owner.name, var) for owner, var, _ in values]
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
        found = {key: value for key, (_, _, value) in zip(keys, values)}
        for layer in dn.layers:
            assert found[(layer.output.name, "p_drop")] == (layer.spec.dropout if learn else 0.0)
            for group in (layer.output, layer.neurons, layer.kernel, layer.bias):
                if group is not None and "lr" in group.variables:
                    assert found[(group.name, "lr")] == (cfg.lr if learn else 0.0)
        for name, (owner, var) in dn.learned.items():
            np.testing.assert_array_equal(found[(owner.name, var)], settings["state"][name])
        timed = [value for owner, var, value in values if var is None]
        assert len(timed) == 2 + cfg.n_layers  # spikes, sample starts, one target per layer
    dn.run(learn=False, state=dn.learned_state(), seed=0)  # the values are accepted by Brian2
    assert dn.steps_done == 8


# ---- (d) recordings of shared kernels and of the neurons under a pool --------------------

def test_record_kernels_and_prepool(rng):
    lr = 0.05
    cfg = NetworkConfig(n_inputs=int(np.prod(SHAPE)), input_shape=SHAPE, conv_layers=CONVS["stride1_pad1_pool2"],
                        layer_sizes=(5,), readout_sizes=4, weight_scale=(6.0, 4.0, 3.0), readout_amplitude=2.0,
                        batch=2, optimiser="sgd", lr=lr, dropout=0.0, seed=3)
    spikes = (rng.random((40, 2 * cfg.n_inputs)) < 0.3).astype(float)
    dn = build_network(cfg, spikes, _targets(cfg, 40), record_state=("u",), record_kernels=("w", "grad"),
                       record_prepool=("u", "err"))
    dn.run(seed=cfg.seed)
    for k, spec in enumerate(cfg.layers, start=1):
        w, grad = dn.kernel_trace(k, "w"), dn.kernel_trace(k, "grad")
        expected = (spec.channels, spec.input_shape[0], spec.kernel, spec.kernel) if spec.is_conv \
            else (spec.n_units, spec.n_inputs)
        assert w.shape == grad.shape == (40, *expected) == (40, *dn.get_weights(k)["w"].shape)
        # monitors run before the step's gradient sum (end, 7) and update (end, 9): the grad
        # recorded at step t+1 is the one that moved w from step t to t+1
        assert np.abs(grad).max() > 0
        np.testing.assert_allclose(w[1:] - w[:-1], -lr * grad[1:], rtol=0, atol=1e-12)
    spec1 = cfg.layers[0]
    u = dn.prepool(1, "u")
    assert u.shape == dn.prepool(1, "err").shape == (40, 2 * spec1.n_units)
    for replica in range(2):
        units = u[:, replica * spec1.n_units:(replica + 1) * spec1.n_units].reshape(40, *spec1.unit_shape)
        pooled = np.stack([max_pool(units[t], spec1.pool).ravel() for t in range(40)])
        np.testing.assert_array_equal(dn.state(1, "u")[:, replica * spec1.n_outputs:(replica + 1) * spec1.n_outputs],
                                      pooled)
    assert np.abs(dn.prepool(1, "err")).max() > 0
    with pytest.raises(ConfigError, match="'u' of prepool 2 was not recorded"):
        dn.prepool(2, "u")  # layer 2 has no pool


def test_record_kernels_of_a_dense_layer_of_its_own_is_refused(rng):
    cfg = _dense_config()
    dn = build_network(cfg, np.zeros((5, N_IN)), _targets(cfg, 5), record_kernels=("w",))
    dn.run()
    with pytest.raises(ConfigError, match="'w' of kernel 1 was not recorded"):
        dn.kernel_trace(1, "w")


def test_output_layer_readout_is_the_identity(rng):
    cfg = NetworkConfig(n_inputs=6, layer_sizes=(5, 3), readout_sizes=3, output_layer=True)
    dn = build_network(cfg, np.zeros((4, 6)), [np.zeros((4, 3))] * 2)
    got = dn.get_weights(2)
    np.testing.assert_array_equal(got["g"], np.eye(3))
    np.testing.assert_array_equal(got["c"], np.zeros(3))
    assert got["w"].shape == (3, 5)
    with pytest.raises(ConfigError, match="output layer, whose readout is its own u"):
        dn.set_weights(2, g=np.eye(3))
