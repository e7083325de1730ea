"""(a) The discrete model equals a direct numpy transcription of decolle-public's recurrences."""
import numpy as np
import pytest

from brian_decolle import NetworkConfig, build_network
from conftest import poisson

pytestmark = pytest.mark.quick   # (the working subset: -m quick)


def transcribe(spikes, weights, biases, alphas, alpha_r, w_rp):
    """decolle-public's LIFLayer, step by step (float64), for a stack of dense layers.

    alphas[k] = (alpha, alpha_s) of spike source k (0 = input, k = layer k).
    """
    n_steps = len(spikes)
    n_layers = len(weights)
    sizes = [spikes.shape[1]] + [w.shape[1] for w in weights]
    p = [np.zeros(n) for n in sizes]
    q = [np.zeros(n) for n in sizes]
    r = [np.zeros(n) for n in sizes[1:]]
    s_prev = [np.zeros(n) for n in sizes[1:]]
    out = {key: [np.zeros((n_steps, n)) for n in sizes[1:]] for key in ("p", "q", "r", "u", "s")}
    for t in range(n_steps):
        for k in range(n_layers + 1):
            alpha, alpha_s = alphas[k]
            p[k] = alpha * p[k] + (1 - alpha) * q[k]          # P from the previous Q
        s_now = [spikes[t]]
        for k in range(n_layers):
            r[k] = alpha_r * r[k] - (1 - alpha_r) * s_prev[k] * w_rp   # R from the previous S
            u = p[k] @ weights[k] + biases[k] + r[k]
            s = (u > 0).astype(float)
            s_now.append(s)
            out["u"][k][t], out["r"][k][t], out["s"][k][t] = u, r[k], s
            s_prev[k] = s
        for k in range(n_layers + 1):
            alpha, alpha_s = alphas[k]
            q[k] = alpha_s * q[k] + (1 - alpha_s) * s_now[k]
        for k in range(n_layers):
            out["p"][k][t], out["q"][k][t] = p[k + 1], q[k + 1]
    return out


@pytest.mark.parametrize("random_tau", [False, True])
def test_discrete_forward_equals_numpy_transcription(rng, random_tau):
    n_steps, n_in = 250, 40
    cfg = NetworkConfig(n_inputs=n_in, layer_sizes=(30, 25, 20), readout_sizes=2, lr=0.0,
                        weight_scale=3.0, random_tau=random_tau, alpha_r=0.6, w_rp=2.0, seed=7)
    spikes = poisson(rng, n_steps, n_in, 0.2)
    targets = [np.zeros((n_steps, 2))] * 3
    dn = build_network(cfg, spikes, targets, record_state=("p", "q", "r", "u"), record_spikes=True)
    dn.run(seed=cfg.seed)
    alphas = [(np.asarray(g.alpha[:]), np.asarray(g.alpha_s[:]))
              for g in [dn.inputs] + [layer.output for layer in dn.layers]]
    weights = [dn.get_weights(k) for k in (1, 2, 3)]
    ref = transcribe(spikes, [w["w"].T for w in weights], [w["b"] for w in weights],  # transcribe: (in, out)
                     alphas, cfg.alpha_r, cfg.w_rp)
    for k in range(3):
        spikes_k = dn.spikes(k + 1)
        assert spikes_k.sum() > 50, "the test needs active layers"
        assert np.array_equal(spikes_k, ref["s"][k]), f"spike mismatch in layer {k + 1}"
        for var in ("p", "q", "r", "u"):
            err = np.max(np.abs(dn.state(k + 1, var) - ref[var][k]))
            print(f"layer {k + 1} {var}: max abs error {err:.3g}")
            assert err <= 1e-9, (k, var, err)
    assert np.array_equal(dn.spikes(0), spikes)


def test_samples_start_from_rest_and_burn_in_again(rng):
    """With sample_steps, two identical samples in a row give identical states, and no
    update happens in the first burnin_ms of either."""
    n, burnin = 80, 10
    cfg = NetworkConfig(n_inputs=15, layer_sizes=(12, 10), readout_sizes=2, weight_scale=3.0, lr=0.0,
                        burnin_ms=burnin, dropout=0.0)
    one = poisson(rng, n, 15, 0.3)
    targets = [np.ones((2 * n, 2))] * 2
    dn = build_network(cfg, np.vstack([one, one]), targets, sample_steps=n, record_state=("u", "p", "err"))
    dn.run(seed=cfg.seed)
    for k in (1, 2):
        u = dn.state(k, "u")
        assert np.array_equal(u[:n], u[n:]) and np.abs(u).max() > 0
        err = dn.state(k, "err")
        for start in (0, n):
            assert np.all(err[start:start + burnin] == 0)
            assert np.any(err[start + burnin:start + n] != 0)


def test_sample_steps_must_divide_the_sequence():
    cfg = NetworkConfig(n_inputs=3, layer_sizes=(2,), readout_sizes=1)
    with pytest.raises(ValueError, match="sample_steps"):
        build_network(cfg, np.zeros((10, 3)), [np.zeros((10, 1))], sample_steps=3)
