"""(b) The Brian2 three-factor rule equals -lr x jax.grad of the layer-local loss;
(c) locality: no layer learns from a later layer's loss."""
import itertools

import numpy as np
import pytest

from brian_decolle import NetworkConfig, build_network
from brian_decolle.build import OPTIMISER_STATE
from conftest import poisson
from oracle import grad

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

N_STEPS, N_IN, SIZES, N_OUT = 60, 12, (10, 8), 3
BURNIN = 5


def _targets(rng):
    t = np.arange(N_STEPS)[:, None]
    return [np.sin(t / 7.0 + np.arange(N_OUT)) * 0.5, rng.normal(size=(N_STEPS, N_OUT))]


def _run(cfg, rng):
    spikes = poisson(rng, N_STEPS, N_IN, 0.3)
    dn = build_network(cfg, spikes, _targets(np.random.default_rng(5)),
                       record_state=("p", "r", "mask", "b", "u"),
                       record_readout=("yhat",),
                       record_synapses=("w", *(v for v in ("norm", "mom") if v in OPTIMISER_STATE[cfg.optimiser])))
    dn.run(seed=cfg.seed)  # dropout masks are recorded; the seed makes the run repeatable
    return dn


def _step_inputs(dn, k, t):
    """Everything the layer-k loss of step t depends on, as recorded."""
    rsyn, readout = dn.layers[k - 1].readout_synapses, dn.layers[k - 1].readout
    n, n_out = dn.cfg.layer_sizes[k - 1], dn.cfg.layers[k - 1].readout_size
    g = np.asarray(rsyn.g[:]).reshape(n, n_out)
    return (dn.state(k - 1, "p")[t], dn.state(k, "r")[t], dn.state(k, "mask")[t], dn.state(k, "p")[t],
            g, np.asarray(readout.c[:]), dn.readout(k, "yhat")[t])


def _after(dn, k, t, var):
    """Weights (or biases) after the update of step t."""
    if var == "w":
        trace = dn.synapse_trace(k, "w")
        return trace[t + 1] if t + 1 < N_STEPS else dn.get_weights(k)["w"].T  # (in, out), as the trace
    trace = dn.state(k, "b")
    return trace[t + 1] if t + 1 < N_STEPS else dn.get_weights(k)["b"]


def sgd_errors(dn, cfg) -> tuple[float, float]:
    """max |dw + lr jax.grad| over both layers and every step (no update during the burn-in), and the
    largest lr x gradient, the scale it is measured against."""
    worst, scale, lr = 0.0, 0.0, cfg.lr
    for k in (1, 2):
        w_rec, b_rec = dn.synapse_trace(k, "w"), dn.state(k, "b")
        for t in range(N_STEPS):
            gw, gb = (np.asarray(x) for x in grad((w_rec[t], b_rec[t]), *_step_inputs(dn, k, t), cfg))
            if t < BURNIN:
                gw, gb = 0 * gw, 0 * gb
            dw, db = _after(dn, k, t, "w") - w_rec[t], _after(dn, k, t, "b") - b_rec[t]
            worst = max(worst, np.max(np.abs(dw + lr * gw)), np.max(np.abs(db + lr * gb)))
            scale = max(scale, lr * np.max(np.abs(gw)), lr * np.max(np.abs(gb)))
    return worst, scale


CASES = list(itertools.product(("sigmoid", "fast_sigmoid", "box"), ("mse", "smooth_l1"),
                               ("sigmoid", "spike", "trace")))


@pytest.mark.parametrize("surrogate,loss,readout_input", CASES)
def test_sgd_update_equals_autograd(rng, surrogate, loss, readout_input):
    cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, surrogate=surrogate, loss=loss,
                        readout_input=readout_input, optimiser="sgd", lr=0.05, dropout=0.3, reg_u=0.2,
                        reg_rate=5.0, rate_target=0.6, weight_scale=2.0, readout_amplitude=2.0,
                        burnin_ms=BURNIN, seed=3)
    worst, scale = sgd_errors(_run(cfg, rng), cfg)
    print(f"{surrogate}/{loss}/{readout_input}: max |dw + lr grad| = {worst:.3g}, scale {scale:.3g}")
    assert scale > 0, "no gradient at all: the test would prove nothing"
    assert worst <= 1e-6 * scale


def test_adamax_matches_reference_adamax(rng):
    """Weights, biases and the Adamax norm follow torch's Adamax(betas=(0, .95)) fed with jax.grad."""
    lr, decay, eps = 0.02, 0.95, 1e-8
    cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, optimiser="adamax", lr=lr,
                        dropout=0.2, weight_scale=2.0, readout_amplitude=2.0, reg_u=0.1, burnin_ms=BURNIN, seed=4)
    dn = _run(cfg, rng)
    for k in (1, 2):
        w = dn.synapse_trace(k, "w")[0].copy()
        b = dn.state(k, "b")[0].copy()
        norm_w, norm_b = np.full_like(w, eps), np.full_like(b, eps)
        for t in range(BURNIN, N_STEPS):
            gw, gb = (np.asarray(x) for x in grad((w, b), *_step_inputs(dn, k, t), cfg))
            norm_w = np.maximum(decay * norm_w, np.abs(gw) + eps)
            norm_b = np.maximum(decay * norm_b, np.abs(gb) + eps)
            w, b = w - lr * gw / norm_w, b - lr * gb / norm_b
            if t + 1 < N_STEPS:
                assert np.max(np.abs(dn.synapse_trace(k, "norm")[t + 1] - norm_w)) <= 1e-9 * np.max(norm_w)
        err_w = np.max(np.abs(dn.get_weights(k)["w"].T - w))  # w is (in, out), as synapse_trace
        err_b = np.max(np.abs(dn.get_weights(k)["b"] - b))
        moved = np.max(np.abs(w - dn.synapse_trace(k, "w")[0]))
        print(f"layer {k}: adamax weights max error {err_w:.3g}, biases {err_b:.3g}, weights moved {moved:.3g}")
        assert moved > 10 * lr, "weights barely moved"
        assert err_w <= 1e-9 and err_b <= 1e-9


def _optax(optimiser, lr, decay):
    """The optax optimiser and a function of its state giving (momentum, second moment) of the weights."""
    import optax
    if optimiser == "adam":
        return optax.adam(lr, b1=decay, b2=0.99, eps=1e-6), lambda state: (state[0].mu[0], state[0].nu[0])
    return optax.sgd(lr, momentum=decay), lambda state: (state[0].trace[0], None)


@pytest.mark.parametrize("optimiser,decay", [("adam", 0.9), ("adam", 0.0), ("sgd_momentum", 0.9)])
def test_optimisers_with_momentum_match_optax(rng, optimiser, decay):
    """Weights, biases and the optimiser's state follow optax.adam (torch.optim.Adam) or optax.sgd with momentum
    (torch.optim.SGD's) fed with jax.grad, step by step after the burn-in; Adam with beta1 = 0 has no momentum."""
    import jax.numpy as jnp
    import optax

    lr = 0.02 if optimiser == "adam" else 0.05
    cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, optimiser=optimiser, lr=lr,
                        momentum=decay, adam_beta1=decay, adam_beta2=0.99, adam_eps=1e-6, dropout=0.2,
                        weight_scale=2.0, readout_amplitude=2.0, reg_u=0.1, burnin_ms=BURNIN, seed=4)
    dn = _run(cfg, rng)
    for k in (1, 2):
        params = (dn.synapse_trace(k, "w")[0].copy(), dn.state(k, "b")[0].copy())
        oracle, moments = _optax(optimiser, lr, decay)
        opt_state = oracle.init(params)
        for t in range(BURNIN, N_STEPS):
            grads = tuple(jnp.asarray(x) for x in grad(params, *_step_inputs(dn, k, t), cfg))
            updates, opt_state = oracle.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            if t + 1 < N_STEPS:
                mu, nu = moments(opt_state)
                # (relative to the largest entry: the gradients of the two runs' nearly equal weights differ
                # by rounding, which a step of about lr per weight when beta1 = 0 carries on)
                assert np.max(np.abs(dn.synapse_trace(k, "mom")[t + 1] - mu)) <= 1e-8 * np.max(np.abs(mu))
                if nu is not None:
                    assert np.max(np.abs(dn.synapse_trace(k, "norm")[t + 1] - nu)) <= 1e-8 * np.max(nu)
                assert np.max(np.abs(dn.synapse_trace(k, "w")[t + 1] - params[0])) <= 1e-9
        w, b = (np.asarray(x) for x in params)
        err_w = np.max(np.abs(dn.get_weights(k)["w"].T - w))  # w is (in, out), as synapse_trace
        err_b = np.max(np.abs(dn.get_weights(k)["b"] - b))
        moved = np.max(np.abs(w - dn.synapse_trace(k, "w")[0]))
        print(f"layer {k}: {optimiser} ({decay}) weights max error {err_w:.3g}, biases {err_b:.3g}, moved {moved:.3g}")
        assert moved > 0.05, "weights barely moved"   # (initial weights within +-0.58)
        assert err_w <= 1e-9 and err_b <= 1e-9


@pytest.mark.parametrize("optimiser", ["adam", "sgd_momentum"])
def test_momentum_stays_while_not_learning(rng, optimiser):
    """A run with learning off (lr 0: an evaluation) takes no step: weights, momentum (and Adam's second moment and
    step count) stay."""
    cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, optimiser=optimiser, lr=0.02,
                        weight_scale=2.0, readout_amplitude=2.0, seed=4)
    spikes = poisson(rng, N_STEPS, N_IN, 0.3)
    dn = build_network(cfg, spikes, _targets(np.random.default_rng(5)))
    dn.run(N_STEPS // 2)
    before = dn.learned_state()
    assert np.abs(before["layer1_w_mom"]).max() > 0
    assert optimiser != "adam" or before["layer1_w_steps"].max() == N_STEPS // 2
    dn.run(learn=False)
    after = dn.learned_state()
    for name in before:
        assert np.array_equal(before[name], after[name]), name


def test_each_layer_learns_at_its_own_rate(rng):
    """lr_scale: layer k learns at lr x lr_scale[k]. Rates (0.05, 0.025) given as lr 0.05 x (1, 0.5) or lr 0.025 x
    (2, 1) learn to the bit alike; lr_scale 0 freezes a layer while the one before learns as before."""
    spikes = poisson(rng, N_STEPS, N_IN, 0.3)
    targets = _targets(np.random.default_rng(5))

    def learned(lr, lr_scale):
        cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, optimiser="sgd", lr=lr,
                            lr_scale=lr_scale, dropout=0.2, weight_scale=2.0, readout_amplitude=2.0, seed=4)
        dn = build_network(cfg, spikes, targets)
        initial = dn.learned_state()
        dn.run(seed=cfg.seed)
        return initial, dn.learned_state()

    initial, halved = learned(0.05, (1.0, 0.5))
    _, doubled = learned(0.025, (2.0, 1.0))
    _, frozen = learned(0.05, (1.0, 0.0))
    _, same = learned(0.05, 1.0)
    for name in halved:
        np.testing.assert_array_equal(halved[name], doubled[name], err_msg=name)
    for name in ("layer1_w", "layer1_b"):
        np.testing.assert_array_equal(frozen[name], same[name], err_msg=name)
        assert np.abs(frozen[name] - initial[name]).max() > 1e-3, name
    for name in ("layer2_w", "layer2_b"):
        np.testing.assert_array_equal(frozen[name], initial[name], err_msg=name)
        assert np.abs(halved[name] - same[name]).max() > 1e-4, name


def test_later_layer_loss_never_changes_earlier_weights(rng):
    """(c) Changing layer 2's pseudo-target changes layer 2's weights but not a bit of layer 1's."""
    cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, lr=0.05, weight_scale=2.0,
                        readout_amplitude=2.0, seed=9)
    spikes = poisson(rng, N_STEPS, N_IN, 0.3)
    targets = _targets(np.random.default_rng(5))
    runs = []
    for layer2_target in (targets[1], -3 * targets[1]):
        dn = build_network(cfg, spikes, [targets[0], layer2_target], record_spikes=True)
        dn.run(seed=cfg.seed)  # the same dropout masks in both runs
        runs.append(dn)
    first, second = (run.get_weights(1) for run in runs)
    assert np.array_equal(first["w"], second["w"])
    assert np.array_equal(first["b"], second["b"])
    assert np.array_equal(runs[0].spikes(1), runs[1].spikes(1))
    assert np.max(np.abs(runs[0].get_weights(2)["w"] - runs[1].get_weights(2)["w"])) > 1e-3
