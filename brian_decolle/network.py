"""Turn a :class:`NetworkConfig` plus input spikes and pseudo-targets into an
explicit Brian2 ``Network`` of DECOLLE layers, and read its results back.

Within one time step the operations run in this order (Brian2 slot, order);
it reproduces decolle-public's LIFLayer step for step:

====================  ===========  ==================================================
operation             slot, order  what
====================  ===========  ==================================================
sample start          start, -1    first step of a sample: traces and refractory state to 0
decay                 start, 0     p <- alpha p + (1-alpha) q;  q <- alpha_s q;  r decays
                                   and takes the previous step's spike (discrete only;
                                   continuous dynamics integrate their ODEs in 'groups')
bias copy             start, 1     shared biases copied to their neurons
synaptic input        groups, -1   isyn_i = sum_j w_ij p_j (summed variable)
max-pool              thresholds,-1  u of a pooled unit = max of its window, and the winner
threshold             thresholds   spike when u = isyn + r + b > 0
reset                 resets       q += gain; remember the spike for r
dropout               end, 0       mask_i redrawn
readout               end, 1       y_k = sum_i g_ki mask_i a_i + c_k  (and the layer's mean
                                   logistic(u) for the activity regulariser)
readout error         end, 2       delta_k = dL/dy_k against the pseudo-target
modulation            end, 3       m_i = sum_k g_ki delta_k  (and the regulariser flag)
neuron error          end, 4       err_i = sigma'(u_i) mask_i m_i + regulariser terms
pooled error          end, 5       under a max-pool: the winning member takes the pooled err
monitors              end, 6       record the state the update is about to use
gradient              end, 7       shared kernels and biases sum err_i p_j and err_i
update                end, 9       w_ij -= lr err_i p_j;  b_i -= lr err_i  (or Adamax)
====================  ===========  ==================================================

Because p only ever reads q of the previous step, all layers threshold in the
same slot and layer n+1 sees layer n's spike of step t at step t+1, as in the
reference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import brian2 as b2
import numpy as np

from . import devices
from . import equations as eq
from .config import ConfigError, ConvLayer, NetworkConfig

#: (slot, order) of every operation within one step; see the module docstring.
SCHEDULE = {
    "sample_start": ("start", -1),
    "decay": ("start", 0),
    "bias_copy": ("start", 1),
    "pool": ("thresholds", -1),
    "dropout": ("end", 0),
    "readout": ("end", 1),
    "readout_error": ("end", 2),
    "modulation": ("end", 3),
    "neuron_error": ("end", 4),
    "pooled_error": ("end", 5),
    "monitors": ("end", 6),
    "gradient": ("end", 7),
    "update": ("end", 9),   # (8 is left free to record the summed gradients)
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
    layers: list = field(default_factory=list)        # per layer: the group the readout reads
    readouts: list = field(default_factory=list)
    readout_synapses: list = field(default_factory=list)
    layer_parts: list = field(default_factory=list)   # per layer: every object (a Layer)
    initial_values: dict = field(default_factory=dict)  # (owner name, variable) -> learned values at build
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
        for layer in self.layer_parts:
            for group in layer.learning_groups():
                group.lr = self.cfg.lr if learn else 0.0
            layer.output.p_drop = self.cfg.dropout if learn and layer.dropout else 0.0
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
        """Current weights of ``layer`` (1-based): dense (n_pre, n_post); conv (out, in, k, k)."""
        part = self.layer_parts[layer - 1]
        if part.kernel is None:
            return np.array(part.synapses.w[:]).reshape(self._shape(layer))
        return self.kernel_layout(layer, part.kernel.w[:])

    def kernel_layout(self, layer: int, values) -> np.ndarray:
        """Values of a kernel group (laid out in, out, row, column) as torch lays out weights:
        conv (out, in, row, column); dense (n_pre, n_post)."""
        values = np.array(values)
        if layer <= len(self.cfg.conv_layers):
            conv = self.cfg.conv_layers[layer - 1]
            return values.reshape(-1, conv.channels, conv.kernel, conv.kernel).transpose(1, 0, 2, 3)
        return values.reshape(self._shape(layer))

    def bias(self, layer: int) -> np.ndarray:
        """Current biases of ``layer``: one per neuron (dense) or per channel (conv)."""
        part = self.layer_parts[layer - 1]
        return np.array((part.neurons if part.bias is None else part.bias).b[:])

    def learned_variables(self) -> dict:
        """Everything learning changes (weights, biases, Adamax norms), by name: (owner, variable)."""
        out = {}
        for k, part in enumerate(self.layer_parts, start=1):
            if part.kernel is None:
                pairs = [("w", part.synapses, "w"), ("b", part.neurons, "b")]
                if self.cfg.optimiser == "adamax":
                    pairs += [("w_norm", part.synapses, "norm"), ("b_norm", part.neurons, "norm_b")]
            else:
                pairs = [("w", part.kernel, "w"), ("b", part.bias, "b")]
                if self.cfg.optimiser == "adamax":
                    pairs += [("w_norm", part.kernel, "norm"), ("b_norm", part.bias, "norm")]
            for role, owner, var in pairs:
                out[f"layer{k}_{role}"] = (owner, var)
        return out

    def learned_state(self, initial: bool = False) -> dict[str, np.ndarray]:
        """A copy of every learned value, e.g. for a checkpoint; initial=True: as built."""
        if initial:
            return {name: self.initial_values[(owner.name, var)].copy()
                    for name, (owner, var) in self.learned_variables().items()}
        return {name: np.array(getattr(owner, var)[:]) for name, (owner, var) in self.learned_variables().items()}

    def set_learned_state(self, state: dict) -> None:
        """Put back values from ``learned_state`` (before a run; on standalone use run_args)."""
        for name, (owner, var) in self.learned_variables().items():
            setattr(owner, var, state[name])

    @property
    def synapses(self) -> list:
        return [part.synapses for part in self.layer_parts]

    def _shape(self, layer: int):
        return (self.cfg.fan_ins()[layer - 1], self.cfg.output_sizes()[layer - 1])

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


def build_network(cfg: NetworkConfig, spikes, targets, *, sample_steps=None, sample_starts=None, record_state=(),
                  record_readout=("y", "yhat", "loss"), record_synapses=(), record_spikes=False,
                  record_neurons=True, name="decolle") -> DecolleNetwork:
    """Build the network for one input sequence (one sample, or many samples back to back).

    spikes:  (n_steps, batch * n_inputs) array of event counts (usually 0/1), the input spike trains;
             replica b owns columns b*n_inputs .. (b+1)*n_inputs - 1, and an
             image input is flattened as (channel, row, column).
    targets: one (n_steps, batch * readout_sizes[l]) array per layer, the pseudo-targets.
    sample_steps: if given, the sequence is a concatenation of samples of this
        many steps; every sample starts from rest and has its own burn-in.
    sample_starts: instead of sample_steps, samples of any lengths: (n_steps,)
        0/1, 1 on the first step of every sample.
    record_*: variables to monitor (every step, at the 'monitors' slot);
    record_neurons: which neurons' states to record (True = all, or indices).
    """
    if not isinstance(cfg, NetworkConfig):
        raise ConfigError(f"cfg must be a NetworkConfig, not {type(cfg).__name__}")
    n_in = cfg.batch * cfg.n_inputs
    spikes = np.asarray(spikes)
    if spikes.ndim != 2:
        raise ConfigError(f"spikes has shape {spikes.shape}; expected (n_steps, batch*n_inputs={n_in})")
    n_steps = spikes.shape[0]
    if n_steps < 1:
        raise ConfigError("spikes must hold at least one step")
    spikes = _check_array("spikes", spikes, (n_steps, n_in))
    if np.any((spikes < 0) | (spikes != np.round(spikes))):
        raise ConfigError("spikes must hold counts of events per input and step: integers >= 0")
    if len(targets) != cfg.n_layers:
        raise ConfigError(f"targets holds {len(targets)} arrays; expected one per layer ({cfg.n_layers})")
    targets = [_check_array(f"targets[{k}]", t, (n_steps, cfg.batch * cfg.readout_sizes[k]))
               for k, t in enumerate(targets)]
    for what, chosen, allowed in (("record_state", record_state, NEURON_VARIABLES),
                                  ("record_readout", record_readout, READOUT_VARIABLES),
                                  ("record_synapses", record_synapses, SYNAPSE_VARIABLES)):
        for var in chosen:
            if var not in allowed:
                raise ConfigError(f"{what} holds {var!r}; allowed: {', '.join(allowed)}")
    if sample_steps is not None and (not isinstance(sample_steps, int) or sample_steps < 1
                                     or n_steps % sample_steps):
        raise ConfigError(f"sample_steps={sample_steps!r} must be a positive integer dividing n_steps={n_steps}")
    if sample_steps is not None and sample_starts is not None:
        raise ConfigError("give sample_steps or sample_starts, not both")
    if sample_steps is not None:
        sample_starts = (np.arange(n_steps) % sample_steps == 0).astype(float)
    if sample_starts is not None:
        sample_starts = _check_array("sample_starts", np.asarray(sample_starts, dtype=float)[:, None], (n_steps, 1))
        if np.any((sample_starts != 0) & (sample_starts != 1)):
            raise ConfigError("sample_starts must hold only 0 and 1")
    if "norm" in record_synapses and cfg.optimiser != "adamax":
        raise ConfigError("record_synapses 'norm' exists only with optimiser='adamax'")
    if record_synapses and any(cfg.is_shared(k + 1) for k in range(cfg.n_layers)):
        raise ConfigError("record_synapses needs dense layers and batch=1; shared kernels are read with weights()")

    builder = _Builder(cfg, name, sample_starts)
    dn = DecolleNetwork(cfg=cfg, n_steps=n_steps, network=None, inputs=builder.input_group(spikes),
                        initial_values=builder.initial_values)
    pre = dn.inputs
    for k in range(cfg.n_layers):
        if cfg.is_shared(k + 1):
            layer = builder.shared_layer(k, pre)
        else:
            layer = builder.dense_layer(k, pre)
        layer.readout, layer.readout_synapses = builder.readout(k, layer.output, targets[k])
        layer.dropout = not cfg.is_output(k + 1)
        builder.population(k, layer.output)
        dn.layer_parts.append(layer)
        dn.layers.append(layer.output)
        dn.readouts.append(layer.readout)
        dn.readout_synapses.append(layer.readout_synapses)
        pre = layer.output

    when, order = SCHEDULE["monitors"]
    clock = builder.clock
    input_vars = [v for v in record_state if v in ("p", "q")]
    if input_vars:
        record = record_neurons if record_neurons is True else [i for i in record_neurons if i < n_in]
        dn.monitors[("state", 0)] = b2.StateMonitor(dn.inputs, input_vars, record=record, when=when, order=order,
                                                    clock=clock, name=f"{dn.inputs.name}_monitor")
    for k, layer in enumerate(dn.layer_parts):
        missing = [v for v in record_state if v not in layer.output.variables]
        if missing:
            raise ConfigError(f"record_state holds {', '.join(missing)}, which layer {k + 1}'s max-pooled units "
                              f"lack; they have {', '.join(v for v in NEURON_VARIABLES if v in layer.output.variables)}")
        for key, source, variables in ((("state", k + 1), layer.output, record_state),
                                       (("readout", k + 1), layer.readout, record_readout),
                                       (("synapses", k + 1), layer.synapses, record_synapses)):
            if variables:
                record = record_neurons if key[0] == "state" else True
                dn.monitors[key] = b2.StateMonitor(source, list(variables), record=record, when=when, order=order,
                                                   clock=clock, name=f"{source.name}_monitor")
    if record_spikes:
        for k, group in enumerate([dn.inputs] + dn.layers):
            dn.monitors[("spikes", k)] = b2.SpikeMonitor(group, name=f"{group.name}_spikes")
    dn.network = b2.Network(builder.objects + list(dn.monitors.values()), name=f"{name}_network")
    devices.seed(cfg.seed)  # dropout masks are drawn by Brian2's own generator
    return dn


@dataclass
class Layer:
    """The Brian2 objects of one layer.

    output: the group whose spikes the next layer and the readout see (the
    neurons, or their max-pooled units); neurons: the integrating group;
    kernel / bias: groups of shared weights and biases (None for a plain dense layer).
    """

    output: b2.NeuronGroup
    neurons: b2.NeuronGroup
    synapses: b2.Synapses
    kernel: b2.NeuronGroup | None = None
    bias: b2.NeuronGroup | None = None
    readout: b2.NeuronGroup | None = None
    readout_synapses: b2.Synapses | None = None
    dropout: bool = True   # False for the non-spiking output layer, whose readout is its own u

    def learning_groups(self):
        groups = (self.output, self.neurons, self.kernel, self.bias)
        return [g for g in groups if g is not None and "lr" in g.variables]


class _Builder:
    """Creates the Brian2 objects of one network, drawing all initial values from one seeded generator."""

    def __init__(self, cfg: NetworkConfig, name: str, sample_starts):
        self.cfg, self.name = cfg, name
        self.rng = np.random.default_rng(cfg.seed)
        self.dt = cfg.dt_ms * b2.ms
        self.clock = b2.Clock(dt=self.dt, name=f"{name}_clock")
        self.objects = []
        self.initial_values = {}
        self.neuron_file = f"neuron_{cfg.dynamics}.eqs"
        self.method = "exact" if cfg.dynamics == "continuous" else None
        self.surrogate = eq.expressions("surrogates.eqs", cfg.surrogate)
        self.activation = (self.surrogate["sigma"] if cfg.readout_input == "sigmoid"
                           else ACTIVATIONS[cfg.readout_input])
        self.adamax = {"adamax_decay": cfg.adamax_decay, "adamax_eps": cfg.adamax_eps}
        self.sample_begins = (None if sample_starts is None
                              else b2.TimedArray(sample_starts[:, 0], dt=self.dt, name=f"{name}_sample_begins"))

    # ---- helpers ----------------------------------------------------------------------
    def initial(self, owner, var, values):
        """Set a learned variable's initial value and keep a copy (standalone cannot read it before a run)."""
        setattr(owner, var, values)
        self.initial_values[(owner.name, var)] = np.array(values, dtype=float)

    def scheduled(self, code, group, key, label):
        # the runner becomes one of the group's contained objects and runs with it
        when, order = SCHEDULE[key]
        group.run_regularly(code, when=when, order=order, name=f"{group.name}_{label}")

    def at_sample_start(self, code, group):
        if self.sample_begins is not None:
            group.namespace["sample_begins"] = self.sample_begins
            self.scheduled(code, group, "sample_start", "sample_start")

    def optimiser_code(self, param, grad, lr, gate, norm):
        section = "adamax" if self.cfg.optimiser == "adamax" else "sgd"
        return eq.code("optimisers.eqs", section, param=param, grad=grad, lr=lr, gate=gate, norm=norm)

    def norm_state(self, norm):
        return eq.code("optimisers.eqs", "adamax_state", norm=norm) if self.cfg.optimiser == "adamax" else ""

    def trains(self, group, n):
        """Time constants of n spike trains per replica; replicas are copies of one network."""
        for var, value in _neuron_parameters(self.cfg, self.rng, n).items():
            setattr(group, var, np.tile(value, self.cfg.batch))

    def learns(self, group):
        """Settings of a group that carries the learning schedule (lr, burn-in)."""
        group.lr = self.cfg.lr
        group.t_burnin = self.cfg.burnin_ms * b2.ms

    def plastic_output(self, group, k):
        """The rule's per-neuron factor err_i on the group the readout reads."""
        group.p_drop = 0.0 if self.cfg.is_output(k + 1) else self.cfg.dropout
        group.reg_u = self.cfg.reg_u
        group.reg_rate = self.cfg.reg_rate
        self.scheduled(eq.code("plasticity.eqs", "dropout"), group, "dropout", "dropout")
        self.scheduled(eq.code("plasticity.eqs", "error"), group, "neuron_error", "error")

    def neuron_model(self, *extra):
        return eq.sections(self.neuron_file)["model"] + eq.sections("sharing.eqs")["position"] + "".join(extra)

    def plasticity_model(self, k):
        # the output layer's readout is its own u: a = u, da/du = 1
        dsigma, activation = ("1", "u") if self.cfg.is_output(k + 1) else (self.surrogate["dsigma"], self.activation)
        return (eq.code("plasticity.eqs", "neuron", dsigma=dsigma, activation=activation)
                + eq.sections("plasticity.eqs")["schedule"])

    def neuron_group(self, n_total, model, n_per_replica, label, namespace=None):
        cfg = self.cfg
        group = b2.NeuronGroup(
            n_total, model, threshold=eq.code(self.neuron_file, "threshold"),
            reset=eq.code(self.neuron_file, "reset"), method=self.method, clock=self.clock, name=label,
            namespace={"n_neurons": n_per_replica, "u_offset": cfg.u_offset, **self.adamax, **(namespace or {})})
        self.trains(group, n_total // cfg.batch)
        self.at_sample_start(eq.code(self.neuron_file, "sample_start"), group)
        if cfg.dynamics == "discrete":
            group.alpha_r = cfg.alpha_r
            self.scheduled(eq.code(self.neuron_file, "decay"), group, "decay", "decay")
        else:
            group.tau_ref = cfg.tau_ref_ms * b2.ms
        group.w_rp = cfg.w_rp
        self.objects.append(group)
        return group

    # ---- groups ------------------------------------------------------------------------
    def input_group(self, spikes):
        cfg, nf = self.cfg, self.neuron_file
        inputs = b2.NeuronGroup(
            cfg.batch * cfg.n_inputs, eq.sections(nf)["input_model"] + eq.sections("sharing.eqs")["position"],
            threshold=eq.code(nf, "input_threshold"), reset=eq.code(nf, "input_reset"),
            method=self.method, clock=self.clock, name=f"{self.name}_input",
            namespace={"spikes_in": b2.TimedArray(spikes, dt=self.dt)})
        self.trains(inputs, cfg.n_inputs)
        self.place(inputs, cfg.input_shape or (cfg.n_inputs, 1, 1))
        self.at_sample_start(eq.code(nf, "input_sample_start"), inputs)
        if cfg.dynamics == "discrete":
            self.scheduled(eq.code(nf, "input_decay"), inputs, "decay", "decay")
        self.objects.append(inputs)
        return inputs

    def dense_layer(self, k, pre) -> Layer:
        """A dense layer with its own weights (batch = 1): w_ij lives on the synapse."""
        cfg = self.cfg
        label = f"{self.name}_layer{k + 1}"
        n, fan_in = cfg.output_sizes()[k], cfg.fan_ins()[k]
        group = self.neuron_group(n, self.neuron_model(eq.sections("plasticity.eqs")["bias"],
                                                       self.plasticity_model(k), self.norm_state("norm_b")),
                                  n, label)
        self.initial(group, "b", _uniform(self.rng, 1 / np.sqrt(fan_in), n))  # torch's default, whatever the scale
        if cfg.optimiser == "adamax":
            # max(decay*eps, |g| + eps) = |g| + eps: torch's first step
            self.initial(group, "norm_b", np.full(n, cfg.adamax_eps))
        self.learns(group)
        self.plastic_output(group, k)
        self.scheduled(self.optimiser_code("b", "err", "lr", "learning", "norm_b"), group, "update", "bias_update")

        # plastic feed-forward synapses, all-to-all with explicit indices so that
        # standalone devices know their number before the run
        syn = b2.Synapses(pre, group, eq.sections("plasticity.eqs")["synapse"] + self.norm_state("norm"),
                          clock=self.clock, name=f"{label}_synapses", namespace=dict(self.adamax))
        i, j = _dense_links(fan_in, n)
        syn.connect(i=i, j=j)
        self.initial(syn, "w", _uniform(self.rng, cfg.weight_scale[k] / np.sqrt(fan_in), fan_in * n))
        if cfg.optimiser == "adamax":
            self.initial(syn, "norm", np.full(fan_in * n, cfg.adamax_eps))
        self.objects.append(syn)
        self.scheduled(self.optimiser_code("w", "err_post*p_pre", "lr_post", "learning_post", "norm"),
                       syn, "update", "update")
        return Layer(output=group, neurons=group, synapses=syn)

    def shared_layer(self, k, pre) -> Layer:
        """A layer whose weights and biases live in kernel and bias groups shared by all
        connections that use them: a convolution, or any layer of a minibatch (batch > 1)."""
        cfg, B = self.cfg, self.cfg.batch
        label = f"{self.name}_layer{k + 1}"
        conv = cfg.conv_layers[k] if k < len(cfg.conv_layers) else None
        in_shape = ((cfg.input_shape or (cfg.n_inputs, 1, 1)) if k == 0 else cfg.layer_shapes()[k - 1])
        fan_in = cfg.fan_ins()[k]
        if conv is None:  # a dense layer of a minibatch: a 1x1 convolution of the flattened input
            shape = ConvLayer(cfg.output_sizes()[k], kernel=1)
            in_shape = (math.prod(in_shape), 1, 1)
            where = ("unit_pre", "0", "0")     # the presynaptic unit's channel, row, column in these terms
            pool = 1
        else:
            shape = conv
            where = ("ch_pre", "row_pre", "col_pre")
            pool = conv.pool
        unit_shape = shape.unit_shape(in_shape)
        n_units, n_biases = math.prod(unit_shape), shape.channels
        unit_bias = np.repeat(np.arange(shape.channels), n_units // shape.channels)

        # the integrating neurons; under a max-pool they hand their spikes' role to the pooled units
        shared_bias = eq.sections("sharing.eqs")["shared_bias"]
        n_out = cfg.output_sizes()[k]
        if pool == 1:
            neurons = self.neuron_group(B * n_units, self.neuron_model(shared_bias, self.plasticity_model(k)),
                                        n_out, label)
            self.learns(neurons)
            self.plastic_output(neurons, k)
            output = neurons
        else:
            # (the schedule only because every neuron's sample start resets t_sample)
            neurons = self.neuron_group(B * n_units, self.neuron_model(
                shared_bias, eq.sections("sharing.eqs")["pooled_unit"], eq.sections("plasticity.eqs")["schedule"]),
                n_units, label)

        # kernel and bias groups: one unit per shared value, each with the learning schedule
        kernel = b2.NeuronGroup(in_shape[0] * shape.channels * shape.kernel ** 2,
                                eq.sections("sharing.eqs")["kernel"] + self.norm_state("norm")
                                + eq.sections("plasticity.eqs")["schedule"], clock=self.clock,
                                name=f"{label}_kernel", namespace=dict(self.adamax))
        biases = b2.NeuronGroup(n_biases, eq.sections("sharing.eqs")["bias_unit"] + self.norm_state("norm")
                                + eq.sections("plasticity.eqs")["schedule"], clock=self.clock,
                                name=f"{label}_bias", namespace=dict(self.adamax))
        # drawn in the dense layers' order (time constants, biases, weights): batch 1 and B agree
        self.initial(biases, "b", _uniform(self.rng, 1 / np.sqrt(fan_in), n_biases))
        self.initial(kernel, "w", _uniform(self.rng, cfg.weight_scale[k] / np.sqrt(fan_in), len(kernel)))
        for group in (kernel, biases):
            if cfg.optimiser == "adamax":
                self.initial(group, "norm", np.full(len(group), cfg.adamax_eps))
            self.learns(group)
            self.at_sample_start(eq.code("plasticity.eqs", "schedule_start"), group)
            self.scheduled(self.optimiser_code(_PARAM[group is kernel], "grad", "lr", "learning", "norm"),
                           group, "update", "update")
            self.objects.append(group)
        if pool > 1:
            output = self.pool_group(k, neurons, biases, unit_shape, pool, label)

        self.place(neurons, unit_shape)
        syn = self.connect_shared(label, pre, neurons, kernel, shape, in_shape, unit_shape, where)
        bgrad = b2.Synapses(neurons, biases, eq.sections("sharing.eqs")["bias_gradient"], clock=self.clock,
                            name=f"{label}_bias_gradient")
        bgrad.connect(i=np.arange(B * n_units), j=np.tile(unit_bias, B))
        _move_summed(bgrad, "grad_post", "gradient")
        _move_summed(bgrad, "b_pre", "bias_copy")
        self.objects.append(bgrad)
        return Layer(output=output, neurons=neurons, synapses=syn, kernel=kernel, bias=biases)

    def connect_shared(self, label, pre, neurons, kernel, shape: ConvLayer, in_shape, unit_shape, where):
        """Forward connections reading the kernel, and the kernel-gradient connections.

        Both are generated by Brian2 itself (generator syntax), on the device, from
        the units' positions: no index arrays, so networks of the paper's size build.
        Kernel entries are laid out (in channel, out channel, row, column), so that
        those one input channel uses are one contiguous range.
        """
        ch, row, col = where
        c_in, c_out, size, pad = in_shape[0], shape.channels, shape.kernel, shape.padding
        _, h_out, w_out = unit_shape
        n_units = math.prod(unit_shape)
        ci, co, dy, dx = np.meshgrid(np.arange(c_in), np.arange(c_out), np.arange(size), np.arange(size),
                                     indexing="ij")
        for var, values in (("k_in", ci), ("k_out", co), ("k_dy", dy), ("k_dx", dx)):
            setattr(kernel, var, values.ravel())
        # forward: input (ci, iy, ix) -> unit (co, y, x) of the same replica when dy = iy - y + pad is in
        # [0, size) and so is dx; it reads kernel entry (ci, co, dy, dx)
        dy_f, dx_f = f"({row} - row_post + {pad})", f"({col} - col_post + {pad})"
        syn = b2.Synapses(pre, neurons, eq.sections("sharing.eqs")["shared_synapse"], clock=self.clock,
                          name=f"{label}_synapses")
        syn.connect(j=f"k for k in range(rep_pre*{n_units}, (rep_pre + 1)*{n_units}) "
                      f"if {dy_f} >= 0 and {dy_f} < {size} and {dx_f} >= 0 and {dx_f} < {size}")
        syn.kidx = f"(({ch}*{c_out} + ch_post)*{size} + {dy_f})*{size} + {dx_f}"
        syn.w = b2.linked_var(kernel, "w", index="kidx")
        # gradient: input (ci, iy, ix) -> kernel entry (ci, co, dy, dx) when its unit (co, iy - dy + pad,
        # ix - dx + pad) exists; one connection per forward connection, reading that unit's err
        y_g, x_g = f"({row} - k_dy_post + {pad})", f"({col} - k_dx_post + {pad})"
        per_channel = c_out * size * size
        grad = b2.Synapses(pre, kernel, eq.sections("sharing.eqs")["kernel_gradient"], clock=self.clock,
                           name=f"{label}_kernel_gradient")
        grad.connect(j=f"k for k in range({ch}*{per_channel}, ({ch} + 1)*{per_channel}) "
                       f"if {y_g} >= 0 and {y_g} < {h_out} and {x_g} >= 0 and {x_g} < {w_out}")
        grad.oidx = f"rep_pre*{n_units} + (k_out_post*{h_out} + {y_g})*{w_out} + {x_g}"
        grad.err_out = b2.linked_var(neurons, "err", index="oidx")
        _move_summed(grad, "grad_post", "gradient")
        self.objects += [grad, syn]
        return syn

    def place(self, group, shape):
        """Positions of a group's units: replica, channel, row, column, and index within the replica."""
        n = math.prod(shape)
        c, r, w = np.unravel_index(np.arange(n), shape)
        group.rep = np.repeat(np.arange(self.cfg.batch), n)
        for var, values in (("unit", np.arange(n)), ("ch", c), ("row", r), ("col", w)):
            setattr(group, var, np.tile(values, self.cfg.batch))

    def pool_group(self, k, neurons, biases, unit_shape, pool, label):
        """Max-pooled units over pool x pool windows of ``neurons``; they spike, carry the
        traces the next layer reads, and hand their err back to the winning member."""
        cfg, B, nf = self.cfg, self.cfg.batch, self.neuron_file
        members, slot, owner = _pool_windows(unit_shape, pool)
        n_pool = len(members)
        model = (eq.sections("sharing.eqs")["pool"]
                 + "".join(eq.code("sharing.eqs", "pool_member", n=n) for n in range(pool * pool))
                 + eq.sections(nf)["input_model"] + eq.sections("sharing.eqs")["position"] + self.plasticity_model(k))
        group = b2.NeuronGroup(B * n_pool, model, threshold=eq.code(nf, "threshold"),
                               reset=eq.code("sharing.eqs", "pool_reset"), clock=self.clock, name=f"{label}_pool",
                               namespace={"n_neurons": n_pool, "u_offset": cfg.u_offset, **self.adamax})
        offsets = np.repeat(np.arange(B) * math.prod(unit_shape), n_pool)
        for n in range(pool * pool):
            member = np.tile(members[:, n], B) + offsets
            setattr(group, f"isyn{n}", b2.linked_var(neurons, "isyn", index=member))
            setattr(group, f"r{n}", b2.linked_var(neurons, "r", index=member))
        group.b = b2.linked_var(biases, "b", index=np.tile(members[:, 0] // (len(slot) // unit_shape[0]), B))
        self.trains(group, n_pool)
        self.place(group, (unit_shape[0], unit_shape[1] // pool, unit_shape[2] // pool))
        self.at_sample_start(eq.code("plasticity.eqs", "schedule_start") + eq.code(nf, "input_sample_start"), group)
        self.scheduled(eq.code(nf, "input_decay"), group, "decay", "decay")
        self.learns(group)
        self.plastic_output(group, k)
        maximum = eq.code("sharing.eqs", "pool_start") + "".join(
            eq.code("sharing.eqs", "pool_step", n=n) for n in range(1, pool * pool))
        self.scheduled(maximum, group, "pool", "maximum")
        self.objects.append(group)

        neurons.slot = np.tile(slot, B)
        pool_of = np.tile(owner, B) + np.repeat(np.arange(B) * n_pool, len(owner))
        neurons.win_out = b2.linked_var(group, "win", index=pool_of)
        neurons.err_out = b2.linked_var(group, "err", index=pool_of)
        self.scheduled(eq.code("sharing.eqs", "pooled_error"), neurons, "pooled_error", "error")
        return group

    def readout(self, k, output, target):
        """The layer's fixed random readout; replicas share g and c (block-diagonal connections)."""
        cfg, B = self.cfg, self.cfg.batch
        n, n_out = cfg.output_sizes()[k], cfg.readout_sizes[k]
        loss = eq.expressions("losses.eqs", cfg.loss)
        readout = b2.NeuronGroup(
            B * n_out, eq.code("readout.eqs", "model", loss=loss["loss"]), clock=self.clock,
            name=f"{output.name}_readout",
            namespace={"n_out": n_out, "target": b2.TimedArray(target, dt=self.dt)})
        identity = cfg.is_output(k + 1)
        bound = cfg.readout_amplitude / np.sqrt(n)
        readout.c = 0.0 if identity else np.tile(_uniform(self.rng, bound, n_out), B)
        self.objects.append(readout)
        self.scheduled(eq.code("readout.eqs", "error", grad=loss["grad"]), readout, "readout_error", "error")
        rsyn = b2.Synapses(output, readout, eq.sections("readout.eqs")["synapses"], clock=self.clock,
                           name=f"{output.name}_readout_synapses")
        if identity:  # y_k = u_k
            rsyn.connect(j="i")
            rsyn.g = 1.0
        else:
            pre, post = _dense_links(n, n_out)
            i, j = _replicate(pre, n, post, n_out, B)
            rsyn.connect(i=i, j=j)
            rsyn.g = np.tile(_uniform(self.rng, bound, n * n_out), B)
        _move_summed(rsyn, "ysum_post", "readout")
        _move_summed(rsyn, "m_pre", "modulation")
        self.objects.append(rsyn)
        return readout, rsyn

    def population(self, k, output):
        """The activity regulariser's population unit, one per replica (only when it is on)."""
        cfg, B = self.cfg, self.cfg.batch
        if cfg.reg_rate <= 0:
            return
        n = cfg.output_sizes()[k]
        label = output.name
        population = b2.NeuronGroup(B, eq.sections("plasticity.eqs")["population"], clock=self.clock,
                                    name=f"{label}_population")
        psyn = b2.Synapses(output, population, eq.sections("plasticity.eqs")["population_synapses"],
                           clock=self.clock, name=f"{label}_population_synapses",
                           namespace={"n_neurons": n, "rate_target": cfg.rate_target})
        psyn.connect(i=np.arange(B * n), j=np.repeat(np.arange(B), n))
        _move_summed(psyn, "deficit_post", "readout")
        _move_summed(psyn, "low_rate_pre", "modulation")
        self.objects += [population, psyn]


_PARAM = {True: "w", False: "b"}


def _dense_links(n_pre, n_post):
    """All-to-all connections (pre, post), ordered as weights laid out (n_pre, n_post)."""
    return np.repeat(np.arange(n_pre), n_post), np.tile(np.arange(n_post), n_pre)


def _pool_windows(unit_shape, pool):
    """For pool x pool max-pooling of units (channel, row, column): the members of every
    window (n_windows, pool*pool) in row-major order, and per unit its slot in its window
    (-1 outside every window, as torch's floor) and its window (0 where it has none)."""
    c, h, w = unit_shape
    ph, pw = h // pool, w // pool
    cc, py, px, dy, dx = np.meshgrid(np.arange(c), np.arange(ph), np.arange(pw), np.arange(pool), np.arange(pool),
                                     indexing="ij")
    members = ((cc * h + py * pool + dy) * w + px * pool + dx).reshape(c * ph * pw, pool * pool)
    slot = np.full(c * h * w, -1.0)
    owner = np.zeros(c * h * w, dtype=int)
    slot[members.ravel()] = np.tile(np.arange(pool * pool), len(members))
    owner[members.ravel()] = np.repeat(np.arange(len(members)), pool * pool)
    return members, slot, owner


def _replicate(pre, n_pre, post, n_post, batch):
    """Connections of ``batch`` replicas: replica b's units are offset by b times the replica size."""
    return (np.concatenate([pre + b * n_pre for b in range(batch)]),
            np.concatenate([post + b * n_post for b in range(batch)]))


def _move_summed(synapses, target, key):
    updater = synapses.summed_updaters[target]
    updater.when, updater.order = SCHEDULE[key]
