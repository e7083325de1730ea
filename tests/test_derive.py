"""Rules derived from a cost and a neuron (brian_decolle.derive, sympy):
- for the hand-written costs, the derived equations give the hand-written updates on the same run;
- for costs with no hand-written rule, the updates equal -lr x jax.grad of the same per-step cost;
- what cannot be derived, or is not local, is refused with a message naming it."""
import itertools

import brian2 as b2
import numpy as np
import pytest

from brian_decolle import NetworkConfig, build_network, derive
from brian_decolle import equations as eq
from brian_decolle.config import ConfigError
from conftest import poisson
from oracle import CHARBONNIER, SOFTMAX_CROSS_ENTROPY
from test_rule import BURNIN, N_IN, N_OUT, N_STEPS, SIZES, sgd_errors

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

#: the hand-written costs of equations/losses.eqs, as a user would type them
HAND_WRITTEN = {"mse": "(y - yhat)**2/n_out",
                "smooth_l1": "(clip(y - yhat, -1, 1)*(y - yhat) - 0.5*clip(y - yhat, -1, 1)**2)/n_out"}
SURROGATES = ("sigmoid", "fast_sigmoid", "box")


def _config(**kw):
    settings = dict(n_inputs=N_IN, layer_sizes=SIZES, readout_sizes=N_OUT, optimiser="sgd", lr=0.05, dropout=0.3,
                    reg_u=0.2, reg_rate=5.0, rate_target=0.6, weight_scale=2.0, readout_amplitude=2.0,
                    burnin_ms=BURNIN, seed=3)
    return NetworkConfig(**{**settings, **kw})


def _run(cfg, targets):
    spikes = poisson(np.random.default_rng(11), N_STEPS, N_IN, 0.3)
    dn = build_network(cfg, spikes, targets, record_state=("p", "r", "mask", "b", "u"),
                       record_readout=("yhat", "loss"), record_synapses=("w",))
    dn.run(seed=cfg.seed)
    return dn


def _sine_targets():
    t = np.arange(N_STEPS)[:, None]
    return [np.sin(t / 7.0 + np.arange(N_OUT)) * 0.5, np.random.default_rng(5).normal(size=(N_STEPS, N_OUT))]


def _values(model_lines: dict, variable: str, grid):
    """Brian2's own values of subexpressions (it parses the printed code) on a grid of one variable."""
    model = f"{variable} : 1\n" + "".join(f"{name} = {code} : 1\n" for name, code in model_lines.items())
    group = b2.NeuronGroup(len(grid), model, namespace={"n_out": 3})
    setattr(group, variable, grid)
    return {name: np.asarray(getattr(group, name)[:]) for name in model_lines}


@pytest.mark.parametrize("surrogate", SURROGATES)
def test_derived_surrogate_slope_is_the_hand_written_one(surrogate):
    hand = eq.expressions("surrogates.eqs", surrogate)
    grid = np.linspace(-3, 3, 601) + 1e-3  # off the box's corners, where the slope is undefined
    values = _values({"derived": derive.derive_post(hand["sigma"]), "hand": hand["dsigma"]}, "u", grid)
    assert np.max(np.abs(values["derived"] - values["hand"])) <= 1e-15


@pytest.mark.parametrize("loss", sorted(HAND_WRITTEN))
def test_derived_readout_error_is_the_hand_written_one(loss):
    hand = eq.expressions("losses.eqs", loss)
    found, delta, sums, back = derive.derive_readout(HAND_WRITTEN[loss])
    assert sums == () and back == ()
    grid = np.linspace(-3, 3, 601) + 1e-3
    model = {"dl": delta, "dl_hand": hand["grad"], "l": found, "l_hand": hand["loss"]}
    values = _values({k: v.replace("yhat", "0.25") for k, v in model.items()}, "y", grid)
    assert np.max(np.abs(values["dl"] - values["dl_hand"])) <= 1e-15
    assert np.max(np.abs(values["l"] - values["l_hand"])) <= 1e-15


@pytest.mark.parametrize("surrogate,loss", list(itertools.product(SURROGATES, sorted(HAND_WRITTEN))))
def test_derived_rule_updates_equal_the_hand_written_rule(surrogate, loss):
    """The same run (inputs, seed, dropout masks) with the hand-written and the derived equations."""
    hand = _run(_config(surrogate=surrogate, loss=loss), _sine_targets())
    derived = _run(_config(surrogate=surrogate, loss="custom", loss_expr=HAND_WRITTEN[loss]), _sine_targets())
    worst, moved = 0.0, 0.0
    for k in (1, 2):
        for trace in ("synapse_trace", "state"):
            var = "w" if trace == "synapse_trace" else "b"
            a, b = getattr(hand, trace)(k, var), getattr(derived, trace)(k, var)
            worst = max(worst, np.max(np.abs(a - b)))
            moved = max(moved, np.max(np.abs(a[-1] - a[0])))
    print(f"{surrogate}/{loss}: max |w_derived - w_hand| = {worst:.3g} (weights moved {moved:.3g})")
    assert moved > 1e-2, "the weights barely moved: the comparison would prove little"
    assert worst <= 1e-12


def _one_hot_targets():
    """Classes held for 15 steps, as one-hot pseudo-targets."""
    labels = (np.arange(N_STEPS) // 15) % N_OUT
    one_hot = np.eye(N_OUT)[labels]
    return [one_hot, one_hot]


def _filtered_spike_targets():
    """A target spike train filtered by an exponential trace (decay 0.9 per step)."""
    spikes = poisson(np.random.default_rng(8), N_STEPS, N_OUT, 0.2)
    trace = np.zeros_like(spikes)
    for t in range(1, N_STEPS):
        trace[t] = 0.9 * trace[t - 1] + spikes[t]
    return [trace, trace]


@pytest.mark.parametrize("cost,targets", [(SOFTMAX_CROSS_ENTROPY, _one_hot_targets),
                                          (CHARBONNIER, _filtered_spike_targets)])
@pytest.mark.parametrize("readout_input", ["sigmoid", "spike"])
def test_custom_cost_updates_equal_jax_grad(cost, targets, readout_input):
    """Costs with no hand-written rule: every step's update is -lr x jax.grad of the same cost."""
    cfg = _config(surrogate="fast_sigmoid", readout_input=readout_input, loss="custom", loss_expr=cost, lr=0.05)
    worst, scale = sgd_errors(_run(cfg, targets()), cfg)
    print(f"{cost} / {readout_input}: max |dw + lr grad| = {worst:.3g}, scale {scale:.3g}")
    assert scale > 1e-3, "no gradient to speak of: the test would prove nothing"
    assert worst <= 1e-9


def test_softmax_readout_sums_span_one_readout_only():
    """With a batch, each replica's softmax normalises over its own readout units."""
    cfg = _config(loss="custom", loss_expr=SOFTMAX_CROSS_ENTROPY, batch=2, dropout=0.0)
    one_hot = _one_hot_targets()[0]
    dn = build_network(cfg, np.tile(poisson(np.random.default_rng(2), N_STEPS, N_IN, 0.3), (1, 2)),
                       [np.tile(one_hot, (1, 2))] * 2, record_readout=("y", "loss"))
    dn.run(seed=1)
    y, loss = dn.readout(1, "y"), dn.readout(1, "loss")
    for rep in range(2):
        part = slice(rep * N_OUT, (rep + 1) * N_OUT)
        expected = -np.sum(one_hot * (y[:, part] - np.log(np.sum(np.exp(y[:, part]), axis=1, keepdims=True))), axis=1)
        assert np.max(np.abs(loss[:, part].sum(axis=1) - expected)) <= 1e-12


def test_dropped_terms_are_named_and_the_neuron_gives_the_presynaptic_factor():
    rule = derive.rule_for(_config(loss="custom", loss_expr="(y - yhat)**2/n_out"))
    assert rule.pre == "p_pre" and rule.bias == "1"
    assert any(text.startswith("r: the refractory state") for text in rule.dropped)
    assert "left out of du_i/dw_ij" in rule.equations() and "r: the refractory state" in rule.equations()
    # a neuron whose synaptic input has a gain: the gain is the postsynaptic neuron's, in synapse code
    pre, bias, dropped, traces = derive.derive_synaptic("gain*isyn + r + 2*b")
    assert (pre, bias, traces) == ("gain_post*p_pre", "2", ())
    assert [text.split(":")[0] for text in dropped] == ["gain", "r", "p_pre"]


REFUSED = [
    (dict(loss="custom", loss_expr="(y - yhat)**2 + u"), "'u' is a variable of the layer's neurons"),
    (dict(loss="custom", loss_expr="(y - y_layer2)**2"), "'y_layer2' reaches another layer or another time step"),
    (dict(loss="custom", loss_expr="(y_next - yhat)**2"), "'y_next' reaches another layer or another time step"),
    (dict(loss="custom", loss_expr="(y - target)**2"), "unknown variable 'target'"),
    (dict(loss="custom", loss_expr="floor(y - yhat)"), "cannot be differentiated with respect to y"),
    (dict(loss="custom", loss_expr="int(y - yhat)"), "int() of a number truncates it"),
    (dict(loss="custom", loss_expr="sum(sum(y))"), "cannot be nested"),
    (dict(loss="custom", loss_expr="smooth(y)"), "unknown function 'smooth'"),
    (dict(loss="custom", loss_expr="(y - yhat"), "is not a Brian2 expression"),
    (dict(loss="custom", loss_expr="y > yhat"), "is a condition, not a number"),
    (dict(loss="custom", loss_expr="yhat**2"), "does not depend on the readout y"),
    (dict(loss="custom"), "loss='custom' needs loss_expr"),
    (dict(loss="mse", loss_expr="(y - yhat)**2"), "loss_expr='(y - yhat)**2' is read only with loss='custom'"),
    (dict(loss="huber"), "loss='huber'"),
]


@pytest.mark.parametrize("settings,message", REFUSED)
def test_bad_costs_are_refused_naming_the_problem(settings, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        _config(**settings)


def _refractory_history(w, b, p_in, cfg):
    """r_t of one dense discrete layer for every step, its spikes straight-through (the step forward,
    the surrogate's slope backward), so that jax differentiates r_t through the neuron's own spikes."""
    import jax
    import jax.numpy as jnp
    from oracle import SIGMA
    sigma = SIGMA[cfg.surrogate]

    def step(r, p):
        u = p @ w + b + r
        spike = jax.lax.stop_gradient((u > 0).astype(u.dtype)) + sigma(u) - jax.lax.stop_gradient(sigma(u))
        return cfg.alpha_r * r - (1 - cfg.alpha_r) * cfg.w_rp * spike, r

    return jax.lax.scan(step, jnp.zeros(w.shape[1]), p_in)[1]


def test_refractory_trace_is_jax_derivative_of_r_through_the_neurons_own_spikes():
    """refractory_trace=True keeps what DECOLLE drops: d r_i(t)/d w_ij, equal to jax's forward-mode
    derivative through every earlier spike of the neuron (weights held: lr 0)."""
    import jax
    cfg = _config(refractory_trace=True, lr=0.0, dropout=0.0, weight_scale=4.0, surrogate="sigmoid")
    rule = derive.synaptic_for(cfg)
    assert rule[0] == "dr_dw + p_pre" and not any(text.startswith("r:") for text in rule[2])
    spikes = poisson(np.random.default_rng(11), N_STEPS, N_IN, 0.3)
    dn = build_network(cfg, spikes, _sine_targets(), record_state=("p", "r"), record_synapses=("w", "dr_dw"))
    dn.run(seed=cfg.seed)
    w = dn.synapse_trace(1, "w")[0].reshape(N_IN, SIZES[0])
    b = np.asarray(dn.get_weights(1)["b"])  # (lr 0: as built)
    p_in = dn.state(0, "p")
    r = _refractory_history(w, b, p_in, cfg)
    assert np.max(np.abs(np.asarray(r) - dn.state(1, "r"))) <= 1e-12  # the same forward pass
    jac = np.asarray(jax.jacfwd(lambda w_: _refractory_history(w_, b, p_in, cfg))(w))  # (t, i, j, i')
    expected = np.einsum("tiji->tji", jac)
    found = dn.synapse_trace(1, "dr_dw").reshape(N_STEPS, N_IN, SIZES[0])
    print(f"max |dr_dw - jax| = {np.max(np.abs(found - expected)):.3g}, largest {np.max(np.abs(expected)):.3g}")
    assert np.max(np.abs(expected)) > 1e-2, "no spike history: the test would prove nothing"
    assert np.max(np.abs(found - expected)) <= 1e-12


def test_refractory_trace_changes_the_updates_and_is_refused_where_it_is_not_built():
    targets = _sine_targets()
    dropped, kept = _run(_config(), targets), _run(_config(refractory_trace=True), targets)
    differ = np.max(np.abs(dropped.synapse_trace(1, "w")[-1] - kept.synapse_trace(1, "w")[-1]))
    assert differ > 1e-6
    for settings in (dict(dynamics="continuous"), dict(batch=2), dict(learning="error_triggered")):
        with pytest.raises(ConfigError, match="refractory_trace=True keeps a trace per synapse"):
            _config(refractory_trace=True, **settings)


def test_users_own_cost_runs_in_a_study_from_the_command_line(tmp_path):
    """The regression study with a Charbonnier cost typed on the command line: the rule is derived,
    written as OUT/rule.eqs, and the recorded loss is that cost of the readouts it recorded."""
    import json
    import subprocess
    import sys
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "brian_decolle", "regression", "--out", str(out), "--device", "runtime",
                           "--codegen", "numpy", "--layer-sizes", "24", "24", "24", "--epochs", "2", "--duration-ms",
                           "100", "--loss", "custom", "--loss-expr", CHARBONNIER], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rule = (out / "rule.eqs").read_text()
    assert "grad = (y - yhat)/(n_out*sqrt((y - yhat)**2 + 1))" in rule and "r: the refractory state" in rule
    assert json.loads((out / "config.json").read_text())["network"]["loss_expr"] == CHARBONNIER
    with np.load(out / "results.npz") as res:
        for k in (1, 2, 3):
            y, target, loss = res[f"layer{k}_y"], res[f"layer{k}_target"], res[f"layer{k}_loss"]
            assert np.max(np.abs(loss - (np.sqrt(1 + (y - target) ** 2) - 1))) <= 1e-12  # n_out = 1
