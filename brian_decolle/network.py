"""Turn a :class:`NetworkConfig` plus input spikes and pseudo-targets into an
explicit Brian2 ``Network`` of DECOLLE layers, and read its results back.

Within one time step the operations run in this order (Brian2 slot, order);
it reproduces decolle-public's LIFLayer step for step:

====================  ===========  ==================================================
operation             slot, order  what
====================  ===========  ==================================================
sample start          start, -1    every sample_steps: traces and refractory state to 0
decay                 start, 0     p <- alpha p + (1-alpha) q;  q <- alpha_s q;  r decays
                                   and takes the previous step's spike (discrete only;
                                   continuous dynamics integrate their ODEs in 'groups')
synaptic input        groups, -1   isyn_i = sum_j w_ij p_j (summed variable)
threshold             thresholds   spike when u = isyn + r + b > 0
reset                 resets       q += gain; remember the spike for r
dropout               end, 0       mask_i redrawn
readout               end, 1       y_k = sum_i g_ki mask_i a_i + c_k  (and the layer's mean
                                   logistic(u) for the activity regulariser)
readout error         end, 2       delta_k = dL/dy_k against the pseudo-target
modulation            end, 3       m_i = sum_k g_ki delta_k  (and the regulariser flag)
neuron error          end, 4       err_i = sigma'(u_i) mask_i m_i + regulariser terms
monitors              end, 5       record the state the update is about to use
update                end, 6       w_ij -= lr err_i p_j;  b_i -= lr err_i  (or Adamax)
====================  ===========  ==================================================

Because p only ever reads q of the previous step, all layers threshold in the
same slot and layer n+1 sees layer n's spike of step t at step t+1, as in the
reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from . import equations as eq
from .config import ConfigError, NetworkConfig

#: (slot, order) of every operation within one step; see the module docstring.
SCHEDULE = {
    "sample_start": ("start", -1),
    "decay": ("start", 0),
    "dropout": ("end", 0),
    "readout": ("end", 1),
    "readout_error": ("end", 2),
    "modulation": ("end", 3),
    "neuron_error": ("end", 4),
    "monitors": ("end", 5),
    "update": ("end", 6),
}

ACTIVATIONS = {"spike": "int(u > 0)", "trace": "p"}  # 'sigmoid' takes the surrogate's sigma

NEURON_VARIABLES = ("u", "isyn", "b", "r", "p", "q", "sg", "act", "mask", "m", "err", "logistic", "low_rate")
READOUT_VARIABLES = ("y", "yhat", "delta", "loss")
SYNAPSE_VARIABLES = ("w", "norm")


@dataclass
class DecolleNetwork:
    """The Brian2 objects of one built network and read-back helpers."""

    cfg: NetworkConfig
    n_steps: int
    network: b2.Network
    inputs: b2.NeuronGroup
    layers: list = field(default_factory=list)
    synapses: list = field(default_factory=list)
    readouts: list = field(default_factory=list)
    readout_synapses: list = field(default_factory=list)
    monitors: dict = field(default_factory=dict)
    steps_done: int = 0

    def run(self, n_steps=None, *, learn=True, record=True, report=None):
        """Simulate n_steps (default: all that are left) from where the last run stopped.

        learn=False freezes weights and biases and switches dropout off (lr = 0,
        p_drop = 0), as for the paper's recordings and for testing. record says
        which monitors run: True, False, or some of 'state', 'readout',
        'synapses', 'spikes'. On standalone devices the runs are only recorded
        and happen at ``devices.build``.
        """
        steps = self.n_steps - self.steps_done if n_steps is None else n_steps
        if not isinstance(steps, int) or not 0 < steps <= self.n_steps - self.steps_done:
            raise ConfigError(f"n_steps={n_steps!r}: {self.n_steps - self.steps_done} of the input's "
                              f"{self.n_steps} steps are left to run")
        kinds = {"state", "readout", "synapses", "spikes"}
        if record is True or record is False:
            record = kinds if record else set()
        if not set(record) <= kinds:
            raise ConfigError(f"record={record!r}: choose True, False or some of {sorted(kinds)}")
        for group in self.layers:
            group.lr = self.cfg.lr if learn else 0.0
            group.p_drop = self.cfg.dropout if learn else 0.0
        for key, monitor in self.monitors.items():
            monitor.active = key[0] in record
        self.network.run(steps * self.cfg.dt_ms * b2.ms, namespace={}, report=report)
        self.steps_done += steps

    # ---- read-back, as numpy arrays indexed [recorded step, unit] ---------------------
    def state(self, layer: int, var: str) -> np.ndarray:
        """A recorded neuron variable of ``layer`` (0 = the input, p and q only): (n_steps, n_units)."""
        return self._monitor(("state", layer), var)

    def readout(self, layer: int, var: str = "y") -> np.ndarray:
        """A recorded readout variable of ``layer``: (n_steps, n_out)."""
        return self._monitor(("readout", layer), var)

    def synapse_trace(self, layer: int, var: str = "w") -> np.ndarray:
        """A recorded synaptic variable of ``layer``: (n_steps, n_pre, n_post)."""
        data = self._monitor(("synapses", layer), var)
        return data.reshape(len(data), *self._shape(layer))

    def spikes(self, layer: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Spikes of ``layer`` (0 = the input) in steps [start, stop): (steps, n_units) of 0/1."""
        mon = self.monitors.get(("spikes", layer))
        if mon is None:
            raise ConfigError(f"spikes of layer {layer} were not recorded: build with record_spikes=True")
        stop = self.n_steps if stop is None else stop
        group = self.inputs if layer == 0 else self.layers[layer - 1]
        out = np.zeros((stop - start, len(group)))
        steps = np.round(np.asarray(mon.t / b2.ms) / self.cfg.dt_ms).astype(int)
        keep = (steps >= start) & (steps < stop)
        out[steps[keep] - start, np.asarray(mon.i)[keep]] = 1.0
        return out

    def weights(self, layer: int) -> np.ndarray:
        """Current weights of ``layer`` (1-based) as (n_pre, n_post)."""
        return np.array(self.synapses[layer - 1].w[:]).reshape(self._shape(layer))

    def bias(self, layer: int) -> np.ndarray:
        return np.array(self.layers[layer - 1].b[:])

    def _shape(self, layer: int):
        return (self.cfg.fan_ins()[layer - 1], self.cfg.layer_sizes[layer - 1])

    def _monitor(self, key, var):
        mon = self.monitors.get(key)
        if mon is None or var not in mon.record_variables:
            raise ConfigError(f"{var!r} of {key[0]} {key[1]} was not recorded; pass it to build_network")
        return np.asarray(getattr(mon, var)).T


def _check_array(name: str, array, shape) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    if array.shape != tuple(shape):
        raise ConfigError(f"{name} has shape {array.shape}; expected {tuple(shape)} (n_steps, units)")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{name} holds NaN or infinite values")
    return array


def _uniform(rng, bound, size):
    return rng.uniform(-bound, bound, size=size)


def _neuron_parameters(cfg: NetworkConfig, rng, n: int) -> dict:
    """Time constants of n spike trains (inputs or neurons), as decays or in seconds."""
    dt = cfg.dt_ms
    if cfg.random_tau:
        lo, hi = cfg.tau_range_ms
        tau_mem, tau_syn = rng.uniform(lo, hi, n), rng.uniform(lo, hi, n)
    else:
        tau_mem, tau_syn = np.full(n, cfg.tau_mem_ms), np.full(n, cfg.tau_syn_ms)
    if cfg.dynamics == "discrete":
        if cfg.random_tau:
            return {"alpha": np.exp(-dt / tau_mem), "alpha_s": np.exp(-dt / tau_syn)}
        return {"alpha": np.full(n, cfg.alpha), "alpha_s": np.full(n, cfg.alpha_s)}
    return {"tau_mem": tau_mem * b2.ms, "tau_syn": tau_syn * b2.ms}


def build_network(cfg: NetworkConfig, spikes, targets, *, sample_steps=None, record_state=(),
                  record_readout=("y", "yhat", "loss"), record_synapses=(), record_spikes=False,
                  record_neurons=True, name="decolle") -> DecolleNetwork:
    """Build the network for one input sequence (one sample, or many samples back to back).

    spikes:  (n_steps, n_inputs) array of 0/1, the input spike trains.
    targets: one (n_steps, readout_sizes[l]) array per layer, the pseudo-targets.
    sample_steps: if given, the sequence is a concatenation of samples of this
        many steps; every sample starts from rest and has its own burn-in.
    record_*: variables to monitor (every step, at the 'monitors' slot);
    record_neurons: which neurons' states to record (True = all, or indices).
    """
    if not isinstance(cfg, NetworkConfig):
        raise ConfigError(f"cfg must be a NetworkConfig, not {type(cfg).__name__}")
    spikes = np.asarray(spikes)
    if spikes.ndim != 2:
        raise ConfigError(f"spikes has shape {spikes.shape}; expected (n_steps, n_inputs={cfg.n_inputs})")
    n_steps = spikes.shape[0]
    if n_steps < 1:
        raise ConfigError("spikes must hold at least one step")
    spikes = _check_array("spikes", spikes, (n_steps, cfg.n_inputs))
    if np.any((spikes != 0) & (spikes != 1)):
        raise ConfigError("spikes must hold only 0 and 1 (one spike at most per input and step)")
    if len(targets) != cfg.n_layers:
        raise ConfigError(f"targets holds {len(targets)} arrays; expected one per layer ({cfg.n_layers})")
    targets = [_check_array(f"targets[{k}]", t, (n_steps, cfg.readout_sizes[k])) for k, t in enumerate(targets)]
    for what, chosen, allowed in (("record_state", record_state, NEURON_VARIABLES),
                                  ("record_readout", record_readout, READOUT_VARIABLES),
                                  ("record_synapses", record_synapses, SYNAPSE_VARIABLES)):
        for var in chosen:
            if var not in allowed:
                raise ConfigError(f"{what} holds {var!r}; allowed: {', '.join(allowed)}")
    if sample_steps is not None and (not isinstance(sample_steps, int) or sample_steps < 1
                                     or n_steps % sample_steps):
        raise ConfigError(f"sample_steps={sample_steps!r} must be a positive integer dividing n_steps={n_steps}")
    if "norm" in record_synapses and cfg.optimiser != "adamax":
        raise ConfigError("record_synapses 'norm' exists only with optimiser='adamax'")

    rng = np.random.default_rng(cfg.seed)
    dt = cfg.dt_ms * b2.ms
    clock = b2.Clock(dt=dt, name=f"{name}_clock")
    objects = []
    neuron_file = f"neuron_{cfg.dynamics}.eqs"
    method = "exact" if cfg.dynamics == "continuous" else None
    surrogate = eq.expressions("surrogates.eqs", cfg.surrogate)
    activation = surrogate["sigma"] if cfg.readout_input == "sigmoid" else ACTIVATIONS[cfg.readout_input]
    loss = eq.expressions("losses.eqs", cfg.loss)
    adamax = {"adamax_decay": cfg.adamax_decay, "adamax_eps": cfg.adamax_eps}

    def scheduled(obj_code, group, key, label, every=None):
        # the runner becomes one of the group's contained objects and runs with it
        when, order = SCHEDULE[key]
        group.run_regularly(obj_code, when=when, order=order, dt=every, name=f"{group.name}_{label}")

    def optimiser_code(param, grad, lr, gate, norm):
        section = "adamax" if cfg.optimiser == "adamax" else "sgd"
        return eq.code("optimisers.eqs", section, param=param, grad=grad, lr=lr, gate=gate, norm=norm)

    def norm_state(norm):
        return eq.code("optimisers.eqs", "adamax_state", norm=norm) if cfg.optimiser == "adamax" else ""

    # input spike trains carry their own epsilon traces
    inputs = b2.NeuronGroup(
        cfg.n_inputs, eq.sections(neuron_file)["input_model"],
        threshold=eq.code(neuron_file, "input_threshold"), reset=eq.code(neuron_file, "input_reset"),
        method=method, clock=clock, name=f"{name}_input",
        namespace={"spikes_in": b2.TimedArray(spikes, dt=dt)})
    for var, value in _neuron_parameters(cfg, rng, cfg.n_inputs).items():
        setattr(inputs, var, value)
    sample_dt = None if sample_steps is None else sample_steps * dt
    if sample_dt is not None:
        scheduled(eq.code(neuron_file, "input_sample_start"), inputs, "sample_start", "sample_start", sample_dt)
    if cfg.dynamics == "discrete":
        scheduled(eq.code(neuron_file, "input_decay"), inputs, "decay", "decay")
    objects.append(inputs)

    dn = DecolleNetwork(cfg=cfg, n_steps=n_steps, network=None, inputs=inputs)
    pre = inputs
    for k, n in enumerate(cfg.layer_sizes):
        layer_name = f"{name}_layer{k + 1}"
        fan_in = cfg.fan_ins()[k]
        n_out = cfg.readout_sizes[k]
        model = (eq.sections(neuron_file)["model"]
                 + eq.code("plasticity.eqs", "neuron", dsigma=surrogate["dsigma"], activation=activation)
                 + norm_state("norm_b"))
        group = b2.NeuronGroup(
            n, model, threshold=eq.code(neuron_file, "threshold"), reset=eq.code(neuron_file, "reset"),
            method=method, clock=clock, name=layer_name,
            namespace={"n_neurons": n, "u_offset": cfg.u_offset, **adamax})
        for var, value in _neuron_parameters(cfg, rng, n).items():
            setattr(group, var, value)
        if sample_dt is not None:
            scheduled(eq.code(neuron_file, "sample_start"), group, "sample_start", "sample_start", sample_dt)
        if cfg.dynamics == "discrete":
            group.alpha_r = cfg.alpha_r
            scheduled(eq.code(neuron_file, "decay"), group, "decay", "decay")
        else:
            group.tau_ref = cfg.tau_ref_ms * b2.ms
        group.w_rp = cfg.w_rp
        group.b = _uniform(rng, 1 / np.sqrt(fan_in), n)  # torch's default, whatever the weight scale
        group.lr = cfg.lr
        group.t_burnin = cfg.burnin_ms * b2.ms
        group.p_drop = cfg.dropout
        group.reg_u = cfg.reg_u
        group.reg_rate = cfg.reg_rate
        if cfg.optimiser == "adamax":
            group.norm_b = cfg.adamax_eps  # max(decay*eps, |g| + eps) = |g| + eps: torch's first step
        objects.append(group)
        scheduled(eq.code("plasticity.eqs", "dropout"), group, "dropout", "dropout")
        scheduled(eq.code("plasticity.eqs", "error"), group, "neuron_error", "error")
        scheduled(optimiser_code("b", "err", "lr", "learning", "norm_b"), group, "update", "bias_update")

        # plastic feed-forward synapses, all-to-all with explicit indices so that
        # standalone devices know their number before the run
        syn = b2.Synapses(pre, group, eq.sections("plasticity.eqs")["synapse"] + norm_state("norm"),
                          clock=clock, name=f"{layer_name}_synapses", namespace=dict(adamax))
        syn.connect(i=np.repeat(np.arange(fan_in), n), j=np.tile(np.arange(n), fan_in))
        syn.w = _uniform(rng, cfg.weight_scale[k] / np.sqrt(fan_in), fan_in * n)
        if cfg.optimiser == "adamax":
            syn.norm = cfg.adamax_eps
        objects.append(syn)
        scheduled(optimiser_code("w", "err_post*p_pre", "lr_post", "learning_post", "norm"), syn, "update", "update")

        # local readout with its fixed random weights
        readout = b2.NeuronGroup(
            n_out, eq.code("readout.eqs", "model", loss=loss["loss"]), clock=clock,
            name=f"{layer_name}_readout",
            namespace={"n_out": n_out, "target": b2.TimedArray(targets[k], dt=dt)})
        bound = cfg.readout_amplitude / np.sqrt(n)
        readout.c = _uniform(rng, bound, n_out)
        objects.append(readout)
        scheduled(eq.code("readout.eqs", "error", grad=loss["grad"]), readout, "readout_error", "error")
        rsyn = b2.Synapses(group, readout, eq.sections("readout.eqs")["synapses"], clock=clock,
                           name=f"{layer_name}_readout_synapses")
        rsyn.connect(i=np.repeat(np.arange(n), n_out), j=np.tile(np.arange(n_out), n))
        rsyn.g = _uniform(rng, bound, n * n_out)
        _move_summed(rsyn, "ysum_post", "readout")
        _move_summed(rsyn, "m_pre", "modulation")
        objects.append(rsyn)

        if cfg.reg_rate > 0:
            population = b2.NeuronGroup(1, eq.sections("plasticity.eqs")["population"], clock=clock,
                                        name=f"{layer_name}_population")
            psyn = b2.Synapses(group, population, eq.sections("plasticity.eqs")["population_synapses"],
                               clock=clock, name=f"{layer_name}_population_synapses",
                               namespace={"n_neurons": n, "rate_target": cfg.rate_target})
            psyn.connect(i=np.arange(n), j=np.zeros(n, dtype=int))
            _move_summed(psyn, "deficit_post", "readout")
            _move_summed(psyn, "low_rate_pre", "modulation")
            objects += [population, psyn]

        dn.layers.append(group)
        dn.synapses.append(syn)
        dn.readouts.append(readout)
        dn.readout_synapses.append(rsyn)
        pre = group

    when, order = SCHEDULE["monitors"]
    input_vars = [v for v in record_state if v in ("p", "q")]
    if input_vars:
        record = record_neurons if record_neurons is True else [i for i in record_neurons if i < cfg.n_inputs]
        dn.monitors[("state", 0)] = b2.StateMonitor(inputs, input_vars, record=record, when=when, order=order,
                                                    clock=clock, name=f"{inputs.name}_monitor")
    for k in range(cfg.n_layers):
        for key, source, variables in ((("state", k + 1), dn.layers[k], record_state),
                                       (("readout", k + 1), dn.readouts[k], record_readout),
                                       (("synapses", k + 1), dn.synapses[k], record_synapses)):
            if variables:
                record = record_neurons if key[0] == "state" else True
                dn.monitors[key] = b2.StateMonitor(source, list(variables), record=record, when=when, order=order,
                                                   clock=clock, name=f"{source.name}_monitor")
    if record_spikes:
        for k, group in enumerate([inputs] + dn.layers):
            dn.monitors[("spikes", k)] = b2.SpikeMonitor(group, name=f"{group.name}_spikes")
    dn.network = b2.Network(objects + list(dn.monitors.values()), name=f"{name}_network")
    b2.seed(cfg.seed)  # dropout masks are drawn by Brian2's own generator
    return dn


def _move_summed(synapses, target, key):
    updater = synapses.summed_updaters[target]
    updater.when, updater.order = SCHEDULE[key]
