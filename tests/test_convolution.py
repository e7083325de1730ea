"""Convolutional DECOLLE layers: shared kernels, max-pooling on u, minibatch replicas.

(a) the forward pass equals a direct (strided, padded) convolution and max-pool of the recorded traces;
(b) kernel and bias gradients equal jax.grad of the layer-local loss (conv + pool);
(c) B replicas sum their gradients into the one shared kernel;
(d) bad kernel and shape settings give clear errors;
(e) runtime and cpp_standalone agree, with discrete and with continuous dynamics.
"""
import brian2 as b2
import numpy as np
import pytest

from brian_decolle import ConfigError, ConvLayer, NetworkConfig, build_network
from brian_decolle.build import SCHEDULE
from oracle import conv_grad

SHAPE = (2, 9, 9)
N_STEPS, BURNIN = 40, 4


def _config(**kw):
    base = dict(n_inputs=int(np.prod(SHAPE)), input_shape=SHAPE,
                conv_layers=(ConvLayer(3, kernel=3, padding=1, pool=2), ConvLayer(2, kernel=3)),
                layer_sizes=(5,), readout_sizes=4, weight_scale=(6.0, 4.0, 3.0), readout_amplitude=2.0,
                lr=0.0, dropout=0.0, seed=3)
    base.update(kw)
    return NetworkConfig(**base)


def _inputs(rng, batch=1, p=0.3, n_steps=N_STEPS):
    spikes = (rng.random((n_steps, batch * int(np.prod(SHAPE)))) < p).astype(float)
    targets = [np.sin(np.arange(n_steps)[:, None] / 5.0 + np.arange(batch * 4)) for _ in range(3)]
    return spikes, targets


#: pairs of conv layers (before the dense layer 3) the forward and gradient tests run on
CONVS = {
    "stride1_pad1_pool2": (ConvLayer(3, kernel=3, padding=1, pool=2), ConvLayer(2, kernel=3)),
    # 9 -> (9-4)//2+1 = 3 (the last input row and column are never read) -> (3+2-3)//2+1 = 2
    "stride2_nopool": (ConvLayer(3, kernel=4, stride=2), ConvLayer(2, kernel=3, padding=1, stride=2)),
    # 9 -> (9+2-3)//2+1 = 5 -> pool 2 drops the last row and column -> 2x2 -> 1x1
    "stride2_pad1_pool2": (ConvLayer(3, kernel=3, padding=1, pool=2, stride=2), ConvLayer(2, kernel=2)),
}


def correlate(p, kernel, padding, stride=1):
    """Direct strided cross-correlation (what torch calls conv2d) of (C_in, H, W) traces."""
    c_out, c_in, k, _ = kernel.shape
    padded = np.pad(p, ((0, 0), (padding, padding), (padding, padding)))
    h, w = (padded.shape[1] - k) // stride + 1, (padded.shape[2] - k) // stride + 1
    out = np.zeros((c_out, h, w))
    for dy in range(k):
        for dx in range(k):
            window = padded[:, dy:dy + stride * (h - 1) + 1:stride, dx:dx + stride * (w - 1) + 1:stride]
            out += np.einsum("oi,ihw->ohw", kernel[:, :, dy, dx], window)
    return out


def max_pool(u, pool):
    """torch's max_pool2d of (C, H, W) with kernel = stride = pool (rows and columns past the last window dropped)."""
    c, h, w = u.shape
    ph, pw = h // pool, w // pool
    return u[:, :ph * pool, :pw * pool].reshape(c, ph, pool, pw, pool).max(axis=(2, 4))


def _monitor(dn, group, variables, name):
    """Record a group the library does not monitor itself (after the gradient sums, before the update)."""
    (when, after), (_, before) = SCHEDULE["gradient"], SCHEDULE["update"]
    mon = b2.StateMonitor(group, variables, record=True, when=when, order=(after + before) // 2, name=name,
                          clock=dn.inputs.clock)
    dn.network.add(mon)
    return mon


@pytest.mark.parametrize("convs", list(CONVS.values()), ids=list(CONVS))
def test_conv_forward_equals_direct_convolution(rng, convs):
    cfg = _config(conv_layers=convs, w_rp=0.0)  # no refractory kick: u of a window member is conv + b exactly
    c1, c2 = convs
    spec1, spec2, spec3 = cfg.layers
    spikes, targets = _inputs(rng)
    dn = build_network(cfg, spikes, targets, record_state=("p", "u"), record_spikes=True)
    units = _monitor(dn, dn.layers[0].neurons, ["u"], "units_u")
    isyn = [_monitor(dn, dn.layers[k].neurons, ["isyn"], f"isyn{k}") for k in (1, 2)]
    dn.run(seed=cfg.seed)
    p_in = dn.state(0, "p").reshape(N_STEPS, *SHAPE)
    weights = [dn.get_weights(k) for k in (1, 2, 3)]
    k1, k2, w3 = (w["w"] for w in weights)
    b1 = weights[0]["b"]
    assert k1.shape == (3, 2, c1.kernel, c1.kernel) and k2.shape == (2, 3, c2.kernel, c2.kernel)
    assert w3.shape == (5, spec2.n_outputs)  # dense: (out, in)
    worst = {}
    for t in range(N_STEPS):
        u1 = correlate(p_in[t], k1, c1.padding, c1.stride) + b1[:, None, None]
        assert u1.shape == spec1.unit_shape
        worst["conv u"] = max(worst.get("conv u", 0), np.abs(np.asarray(units.u)[:, t] - u1.ravel()).max())
        pooled = max_pool(u1, c1.pool)
        worst["pooled u"] = max(worst.get("pooled u", 0), np.abs(dn.state(1, "u")[t] - pooled.ravel()).max())
        isyn2 = correlate(dn.state(1, "p")[t].reshape(spec1.output_shape), k2, c2.padding, c2.stride)
        assert isyn2.shape == spec2.unit_shape
        worst["conv isyn"] = max(worst.get("conv isyn", 0), np.abs(np.asarray(isyn[0].isyn)[:, t] - isyn2.ravel()).max())
        dense = w3 @ dn.state(2, "p")[t]
        worst["dense isyn"] = max(worst.get("dense isyn", 0), np.abs(np.asarray(isyn[1].isyn)[:, t] - dense).max())
    print("max abs errors:", {k: f"{v:.2g}" for k, v in worst.items()})
    assert max(worst.values()) <= 1e-9
    for k in (1, 2):
        assert dn.spikes(k).sum() > 20, "the test needs spiking layers"
    np.testing.assert_array_equal(dn.spikes(1), (dn.state(1, "u") > 0).astype(float))


@pytest.mark.parametrize("surrogate,loss,readout_input,convs", [
    ("fast_sigmoid", "smooth_l1", "spike", "stride1_pad1_pool2"),
    ("sigmoid", "mse", "sigmoid", "stride1_pad1_pool2"),
    ("fast_sigmoid", "smooth_l1", "spike", "stride2_pad1_pool2"),
])
def test_conv_pool_gradients_equal_autograd(rng, surrogate, loss, readout_input, convs):
    cfg = _config(conv_layers=CONVS[convs], surrogate=surrogate, loss=loss, readout_input=readout_input,
                  dropout=0.3, burnin_ms=BURNIN, reg_u=0.3, reg_rate=4.0, rate_target=0.6, w_rp=1.5)
    spec = cfg.layers[0]
    spikes, targets = _inputs(rng)
    dn = build_network(cfg, spikes, targets, record_state=("p", "mask"), record_readout=("yhat",))
    part = dn.layers[0]
    kernel_mon = _monitor(dn, part.kernel, ["grad"], "kernel_grad")
    bias_mon = _monitor(dn, part.bias, ["grad"], "bias_grad")
    r_mon = _monitor(dn, part.neurons, ["r"], "units_r")
    dn.run(seed=cfg.seed)
    g = np.asarray(part.readout_synapses.g[:]).reshape(spec.n_outputs, 4)
    c = np.asarray(part.readout.c[:])
    weights = dn.get_weights(1)
    params = (weights["w"], weights["b"])
    p_in = dn.state(0, "p").reshape(N_STEPS, *SHAPE)
    worst, scale = 0.0, 0.0
    for t in range(N_STEPS):
        r = np.asarray(r_mon.r)[:, t].reshape(spec.unit_shape)
        gk, gb = conv_grad(params, p_in[t], r, dn.state(1, "mask")[t], dn.state(1, "p")[t], g, c,
                           dn.readout(1, "yhat")[t], cfg, 0)
        gk, gb = np.asarray(gk).ravel(), np.asarray(gb)
        if t < BURNIN:
            gk, gb = 0 * gk, 0 * gb
        grad_k = dn.kernel_layout(1, np.asarray(kernel_mon.grad)[:, t]).ravel()
        worst = max(worst, np.abs(grad_k - gk).max(),
                    np.abs(np.asarray(bias_mon.grad)[:, t] - gb).max())
        scale = max(scale, np.abs(gk).max(), np.abs(gb).max())
    print(f"{surrogate}/{loss}/{readout_input}/{convs}: max |grad - jax.grad| = {worst:.3g}, scale {scale:.3g}")
    assert scale > 0
    assert worst <= 1e-6 * scale


def test_replicas_sum_their_gradients(rng):
    """Two replicas fed inputs A and B put grad(A) + grad(B) into the shared conv kernels and biases."""
    (spikes_a, targets), (spikes_b, _) = _inputs(rng), _inputs(rng)
    grads = {}
    for label, batch, spikes in (("a", 1, spikes_a), ("b", 1, spikes_b), ("ab", 2, np.hstack([spikes_a, spikes_b]))):
        cfg = _config(burnin_ms=BURNIN, batch=batch)
        tg = targets if batch == 1 else [np.hstack([t, t]) for t in targets]
        dn = build_network(cfg, spikes, tg, name=f"net_{label}")
        mons = [_monitor(dn, getattr(part, kind), ["grad"], f"{label}_{kind}{k}")
                for k, part in enumerate(dn.layers[:2]) for kind in ("kernel", "bias")]
        dn.run(seed=cfg.seed)
        grads[label] = [np.asarray(m.grad) for m in mons]
        assert cfg.layers[2].shared == (batch > 1)  # the dense layer shares its weights only across replicas
    assert len(grads["ab"]) == 4
    for k, (ga, gb, gab) in enumerate(zip(grads["a"], grads["b"], grads["ab"])):
        assert np.abs(ga).max() > 0 and np.abs(gb).max() > 0
        assert np.abs(ga - gb).max() > 1e-6, "different inputs must give different gradients"
        np.testing.assert_allclose(gab, ga + gb, rtol=0, atol=1e-12 * max(1.0, np.abs(gab).max()))


def test_replicas_learn_one_kernel(rng):
    """With learning on, a batch of two copies of one sample takes the step of twice its gradient (SGD)."""
    spikes, targets = _inputs(rng)
    weights = {}
    for batch, lr in ((1, 0.02), (2, 0.01)):
        cfg = _config(batch=batch, lr=lr, optimiser="sgd", burnin_ms=BURNIN)
        dn = build_network(cfg, np.tile(spikes, (1, batch)), [np.tile(t, (1, batch)) for t in targets])
        start = [dn.get_weights(k)["w"] for k in (1, 2, 3)]
        dn.run(20 + BURNIN, seed=cfg.seed)  # the replicas stay identical, so the summed step is twice one replica's
        weights[batch] = [dn.get_weights(k)["w"] for k in (1, 2, 3)]
    moved = [np.abs(w - w0).max() for w, w0 in zip(weights[1], start)]
    print("weights moved by", moved)
    assert min(moved) > 1e-4
    for w1, w2 in zip(weights[1], weights[2]):
        np.testing.assert_allclose(w2, w1, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kw,match", [
    (dict(conv_layers=(ConvLayer(3, kernel=11),)), "kernel=11 is larger"),
    (dict(conv_layers=(ConvLayer(3, kernel=3, pool=8),)), "pool=8"),
    (dict(input_shape=(2, 9, 8)), "input_shape"),
    (dict(input_shape=(2, 9)), "input_shape"),
    (dict(input_shape=None), "input_shape"),
    (dict(conv_layers=(ConvLayer(3, kernel=3, stride=2, pool=5),)), "pool=5"),  # 9 -> 4 wide at stride 2
    (dict(batch=0), "batch"),
    (dict(conv_layers=({"channels": 3, "size": 3},)), "conv_layers"),
])
def test_bad_convolution_settings(kw, match):
    with pytest.raises(ConfigError, match=match):
        _config(**kw)


@pytest.mark.parametrize("kw,match", [
    (dict(channels=0), "conv channels"), (dict(channels=2, kernel=0), "conv kernel"),
    (dict(channels=2, padding=-1), "conv padding"), (dict(channels=2, pool=1.5), "conv pool"),
    (dict(channels=2, stride=0), "conv stride"),
])
def test_bad_conv_layer(kw, match):
    with pytest.raises(ConfigError, match=match):
        ConvLayer(**kw)


def test_batch_input_shape_is_checked(rng):
    cfg = _config(batch=2)
    spikes, targets = _inputs(rng)  # one replica's worth of columns
    with pytest.raises(ConfigError, match=r"batch\*n_inputs|expected \(40, 324\)"):
        build_network(cfg, spikes, [np.tile(t, (1, 2)) for t in targets])


def _train_conv(device, build_dir, spikes, targets, cfg, codegen_target="numpy"):
    from brian_decolle import devices
    devices.select(device, build_dir=build_dir, codegen_target=codegen_target)
    dn = build_network(cfg, spikes, targets, record_spikes=True)
    initial = [dn.get_weights(k)["w"] for k in (1, 2, 3)] if not devices.is_standalone() else None
    dn.run(seed=cfg.seed)
    devices.build()
    weights = [dn.get_weights(k) for k in (1, 2, 3)]
    out = ([dn.spikes(k) for k in (1, 2, 3)], [w["w"] for w in weights], [w["b"] for w in weights], initial,
           dn.learned_state())
    devices.select("runtime", codegen_target="numpy")
    return out


def test_runtime_and_cpp_standalone_agree_on_conv_pool_batch(rng, tmp_path):
    """Conv + max-pool + conv + dense, two replicas, Adamax, dropout, both regularisers and the
    homeostasis of excitability (on the neurons under the pool too)."""
    cfg = _config(batch=2, optimiser="adamax", lr=0.01, dropout=0.3, reg_u=0.05, reg_rate=0.5, burnin_ms=BURNIN,
                  homeostasis_tau_s=0.02, homeostasis_hz=50.0, homeostasis_window_s=0.01)
    spikes, targets = _inputs(rng, batch=2, n_steps=60)
    runtime = _train_conv("runtime", None, spikes, targets, cfg)
    cpp = _train_conv("cpp_standalone", tmp_path / "cpp", spikes, targets, cfg)
    for a, b in zip(runtime[0], cpp[0]):
        assert a.sum() > 10 and np.array_equal(a, b)
    for part in (1, 2):
        for a, b in zip(runtime[part], cpp[part]):
            assert np.max(np.abs(a - b)) <= 1e-9
    for k in (1, 2, 3):
        h, nu = runtime[4][f"layer{k}_h"], runtime[4][f"layer{k}_nu"]
        assert h.shape == (cfg.layers[k - 1].n_units,) and np.abs(h).max() > 0.1, "the homeostasis moved h"
        assert np.max(np.abs(h - cpp[4][f"layer{k}_h"])) <= 1e-9 and np.max(np.abs(nu - cpp[4][f"layer{k}_nu"])) <= 1e-6
    for initial, final in zip(runtime[3], runtime[1]):
        assert np.max(np.abs(final - initial)) > 1e-3, "learning must have moved the kernels"


def test_continuous_conv_layers_runtime_cython_and_cpp_standalone_agree(rng, tmp_path):
    """Conv layers with continuous dynamics and random time constants: a strided conv with a
    max-pool, a padded conv and a dense layer learn the same on cython and generated C++.

    The subject is the code Brian2 generates for Cython, not gcc's optimiser: the runtime device's 69
    code objects are compiled one after the other at -O0 (89 s with Cython's cache empty, as on a clean
    CI machine, against 154 s at Brian2's -O3 -march=native), keeping -ffast-math, which is what
    lets rounding differ from the C++ build's."""
    import brian2 as b2
    cpp_flags = b2.prefs.codegen.cpp.extra_compile_args_gcc
    # 9x9 -> 5x5 at stride 2 -> pooled 2x2 -> 3x3 (padding 1)
    convs = (ConvLayer(3, kernel=3, padding=1, pool=2, stride=2), ConvLayer(2, kernel=2, padding=1))
    cfg = _config(conv_layers=convs, dynamics="continuous", random_tau=True,
                  optimiser="adamax", lr=0.01, dropout=0.3, reg_u=0.05, burnin_ms=BURNIN)
    spikes, targets = _inputs(rng, n_steps=60)
    b2.prefs.codegen.cpp.extra_compile_args_gcc = [f for f in cpp_flags if not f.startswith(("-O", "-march"))] + ["-O0"]
    try:
        runtime = _train_conv("runtime", None, spikes, targets, cfg, codegen_target="cython")
    finally:
        b2.prefs.codegen.cpp.extra_compile_args_gcc = cpp_flags
    cpp = _train_conv("cpp_standalone", tmp_path / "cpp", spikes, targets, cfg)
    for a, b in zip(runtime[0], cpp[0]):
        assert a.sum() > 10 and np.array_equal(a, b)
    for part in (1, 2):
        for a, b in zip(runtime[part], cpp[part]):
            # (C++'s kernel-gradient loops sum each entry in a vectorised reduction, which -ffast-math
            # reassociates: rounding differences of ~1e-16 per step, grown to ~2e-12 by Adamax in 60 steps)
            assert np.max(np.abs(a - b)) <= 1e-11 * max(1.0, np.abs(a).max())
    for initial, final in zip(runtime[3], runtime[1]):
        assert np.max(np.abs(final - initial)) > 1e-3, "learning must have moved the kernels"


def test_cuda_standalone_code_for_conv_pool_batch(rng, tmp_path):
    """Without a GPU, brian2cuda generates the project with the kernel-gradient and pooling code."""
    from brian_decolle import devices
    cfg = _config(batch=2, optimiser="adamax", lr=0.01, dropout=0.3)
    devices.select("cuda_standalone", build_dir=tmp_path / "cuda")
    dn = build_network(cfg, *_inputs(rng, batch=2, n_steps=20))
    dn.run(seed=cfg.seed)
    devices.build(compile=False, run=False)
    devices.select("runtime", codegen_target="numpy")
    names = {p.name for p in (tmp_path / "cuda" / "code_objects").glob("*.cu")}
    for prefix in ("decolle_layer1_kernel_gradient_summed_variable_grad_post", "decolle_layer1_pool_maximum",
                   "decolle_layer1_error", "decolle_layer1_kernel_w_update", "decolle_layer3_kernel_w_update",
                   "decolle_layer1_bias_b_update", "decolle_layer2_bias_gradient_summed_variable_b_pre"):
        assert any(n.startswith(prefix) for n in names), (prefix, sorted(names))


def test_output_layer_learns_its_own_potential(rng):
    """decolle-public's non-spiking output layer: y = u, and dw_ij = -lr loss'(u_i - yhat_i) p_j exactly."""
    import jax
    import jax.numpy as jnp

    cfg = _config(layer_sizes=(4,), output_layer=True, optimiser="sgd", lr=0.05, dropout=0.5, burnin_ms=BURNIN)
    spikes, targets = _inputs(rng)
    dn = build_network(cfg, spikes, targets, record_state=("p", "u", "mask"), record_readout=("y", "yhat"))
    mon = _monitor(dn, dn.layers[2].synapses, ["w"], "out_w")
    dn.run(seed=cfg.seed)
    np.testing.assert_array_equal(dn.readout(3, "y"), dn.state(3, "u"))
    assert np.all(dn.state(3, "mask") == 1), "no dropout on the output layer"

    def loss(w, p, b_r, yhat):
        d = p @ w + b_r - yhat
        return jnp.mean(jnp.where(jnp.abs(d) < 1, 0.5 * d ** 2, jnp.abs(d) - 0.5))

    w_trace = np.asarray(mon.w).T.reshape(N_STEPS, -1, 4)
    worst, scale = 0.0, 0.0
    for t in range(BURNIN, N_STEPS - 1):
        w = w_trace[t]
        p_in = dn.state(2, "p")[t]
        rest = dn.state(3, "u")[t] - p_in @ w
        g = np.asarray(jax.grad(loss)(w, p_in, rest, dn.readout(3, "yhat")[t]))
        worst = max(worst, np.abs(w_trace[t + 1] - w + 0.05 * g).max())
        scale = max(scale, 0.05 * np.abs(g).max())
    print(f"output layer: max |dw + lr grad| = {worst:.3g}, scale {scale:.3g}")
    assert scale > 0 and worst <= 1e-9 * max(scale, 1.0)


def test_output_layer_needs_a_matching_dense_layer():
    with pytest.raises(ConfigError, match="output_layer=True"):
        _config(layer_sizes=(5,), readout_sizes=4, output_layer=True)
