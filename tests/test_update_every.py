"""update_every='sample': the gradient is summed over a sample and applied once, when the next
sample starts; with SGD and Adamax the step equals the oracle's (jax.grad summed over the sample)."""
import numpy as np
import pytest

from brian_decolle import ConfigError, NetworkConfig, build_network
from conftest import poisson
from oracle import grad
from test_rule import BURNIN, N_IN, N_OUT, N_STEPS, SIZES, _step_inputs, _targets

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

HALF = N_STEPS // 2   # two samples of HALF steps


def _run(cfg, rng):
    dn = build_network(cfg, poisson(rng, N_STEPS, N_IN, 0.3), _targets(np.random.default_rng(5)), sample_steps=HALF,
                       record_state=("p", "r", "mask", "b", "u"), record_readout=("yhat",), record_synapses=("w",))
    dn.run(seed=cfg.seed)
    return dn


def _summed_gradient(dn, k, w, b, steps):
    gw, gb = 0, 0
    for t in steps:
        gw_t, gb_t = (np.asarray(x) for x in grad((w, b), *_step_inputs(dn, k, t), dn.cfg))
        gw, gb = gw + gw_t, gb + gb_t
    return gw, gb


@pytest.mark.parametrize("optimiser", ["sgd", "adamax"])
def test_one_step_per_sample_with_the_summed_gradient(rng, optimiser):
    lr, eps = 0.05, 1e-8
    cfg = NetworkConfig(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, optimiser=optimiser, lr=lr,
                        update_every="sample", dropout=0.2, weight_scale=2.0, readout_amplitude=2.0, reg_u=0.1,
                        burnin_ms=BURNIN, seed=4)
    dn = _run(cfg, rng)
    state = dn.learned_state()
    for k in (1, 2):
        trace, b_trace = dn.synapse_trace(k, "w"), dn.state(k, "b")
        w0, b0 = trace[0], b_trace[0]
        # the weights hold still through the first sample (its update comes at step HALF's end)
        assert np.array_equal(trace[:HALF + 1], np.broadcast_to(w0, (HALF + 1, *w0.shape)))
        gw, gb = _summed_gradient(dn, k, w0, b0, range(BURNIN, HALF))
        step_w, step_b = (lr * gw / (np.abs(gw) + eps), lr * gb / (np.abs(gb) + eps)) if optimiser == "adamax" \
            else (lr * gw, lr * gb)
        w1, b1 = w0 - step_w, b0 - step_b
        assert np.max(np.abs(step_w)) > 1e-3, "no update: the test would prove nothing"
        assert np.max(np.abs(trace[HALF + 1:] - w1)) <= 1e-12 and np.max(np.abs(b_trace[HALF + 1:] - b1)) <= 1e-12
        # the second sample's gradient waits in the accumulator for the next sample (or the next run)
        gw2, gb2 = _summed_gradient(dn, k, w1, b1, range(HALF + BURNIN, N_STEPS))
        acc_w = state[f"layer{k}_w_acc"].reshape(w0.shape)
        assert np.max(np.abs(acc_w - gw2)) <= 1e-12 * max(1, np.max(np.abs(gw2)))
        assert np.max(np.abs(state[f"layer{k}_b_acc"] - gb2)) <= 1e-12 * max(1, np.max(np.abs(gb2)))


def test_refused_without_samples_or_with_error_events():
    cfg = NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=2, update_every="sample")
    with pytest.raises(ConfigError, match="sample_steps or sample_starts"):
        build_network(cfg, np.zeros((10, 4)), [np.zeros((10, 2))])
    with pytest.raises(ConfigError, match="update_every='step'"):
        NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=2, update_every="sample", optimiser="sgd",
                      learning="error_triggered")
    with pytest.raises(ConfigError, match="update_every='often'.*'step', 'sample'"):
        NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=2, update_every="often")
