"""Build the Brian2 objects of a DECOLLE network from its per-layer records.

One :class:`Builder` makes every group, synapse and runner of one network,
drawing all initial values from one generator seeded by ``cfg.seed``. Each
layer is built from its :class:`~brian_decolle.config.LayerSpec`; nothing
here recomputes a shape. The order of operations within a time step is
``SCHEDULE`` (see :mod:`brian_decolle.network`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import brian2 as b2
import numpy as np
from brian2.utils.stringtools import word_substitute

from . import derive
from . import equations as eq
from .codegen import connect_blocks
from .config import LayerSpec, NetworkConfig

#: (slot, order) of every operation within one step; see network.py's docstring.
SCHEDULE = {
    "sample_start": ("start", -1),
    "decay": ("start", 0),
    "bias_copy": ("start", 1),
    "pool": ("thresholds", -1),
    "dropout": ("end", 0),
    "readout": ("end", 10),
    "readout_error": ("end", 20),
    "readout_sums": ("end", 21),        # a derived cost's sums over the units of a readout
    "readout_back_sums": ("end", 22),
    "readout_delta": ("end", 23),       # (with such sums, the error runs after them)
    "error_events": ("end", 25),        # error-triggered learning: the readout's error events
    "modulation_reset": ("end", 28),    # error-triggered learning: m = 0 before the events arrive
    "modulation": ("end", 30),
    "neuron_error": ("end", 40),
    "pooled_error": ("end", 50),
    "learning_events": ("end", 55),     # error-triggered learning: neurons with err != 0 (pooled err included)
    "monitors": ("end", 60),   # (and the membrane statistics)
    "gradient": ("end", 70),
    "update": ("end", 90),   # (80 is left free to record the summed gradients)
    "history_traces": ("end", 95),      # refractory_trace: d r/d w for the next step, after the update
    "homeostasis": ("end", 96),         # each neuron's excitability follows its rate (homeostasis.eqs)
    "homeostasis_copy": ("start", 2),   # ... and reaches the replicas' neurons before they threshold
}

#: times stay float64 whatever the precision: float32 seconds would blur the burn-in gate of long runs
TIME_DTYPES = {"t_sample": np.float64, "t_burnin": np.float64}
#: the optimisers' constants (equations/optimisers.eqs), in every learning group's namespace
OPTIMISER_CONSTANTS = ("momentum", "adamax_decay", "adamax_eps", "adam_beta1", "adam_beta2", "adam_eps")


def state_names(norm: str) -> dict[str, str]:
    """The names of one learned variable's optimiser state, from the name of its norm ('norm', 'norm_b')."""
    return {key: norm.replace("norm", key) for key in ("norm", "mom", "steps", "acc")}


#: each optimiser's state per learned value (equations/optimisers.eqs, section OPTIMISER_state), by the suffix
#: of its names: SGD's velocity, Adamax's running norm, Adam's moments and step count
OPTIMISER_STATE = {"sgd": (), "sgd_momentum": ("mom",), "adamax": ("norm",), "adam": ("mom", "norm", "steps")}


def optimiser_state(cfg, n: int) -> dict[str, np.ndarray]:
    """The optimiser's state of n learned values before the first step, by the suffix of its learned names
    (layerN_w_norm, ...): Adamax's norm at eps (max(decay*eps, |g| + eps) = |g| + eps is torch's first
    step), every other at 0, and with update_every='sample' the summed gradient at 0."""
    start = cfg.adamax_eps if cfg.optimiser == "adamax" else 0.0
    state = {suffix: np.full(n, start) for suffix in OPTIMISER_STATE[cfg.optimiser]}
    if cfg.update_every == "sample":
        state["acc"] = np.zeros(n)
    return state

ACTIVATIONS = {"spike": "int(u > 0)", "trace": "p"}  # 'sigmoid' takes the surrogate's sigma


@dataclass
class Layer:
    """The Brian2 objects of one layer.

    output: the group whose spikes the next layer and the readout see (the
    neurons, or their max-pooled units); neurons: the integrating group;
    kernel / bias: groups of shared weights and biases (None for a dense layer
    of its own, whose weights live on its synapses and biases on its neurons).
    """

    spec: LayerSpec
    output: b2.NeuronGroup
    neurons: b2.NeuronGroup
    synapses: b2.Synapses
    kernel: b2.NeuronGroup | None = None
    bias: b2.NeuronGroup | None = None
    readout: b2.NeuronGroup | None = None
    readout_synapses: b2.Synapses | None = None
    population_synapses: b2.Synapses | None = None   # the activity regulariser's population sums (when on)
    homeostasis: b2.NeuronGroup | None = None        # the neurons' homeostasis units (homeostasis_tau_s > 0)

    def schedule_groups(self) -> list:
        """The groups carrying the learning rate and burn-in, each once (the output group
        may be the neuron group)."""
        groups = []
        for g in (self.output, self.neurons, self.kernel, self.bias):
            if g is not None and "lr" in g.variables and all(g is not h for h in groups):
                groups.append(g)
        return groups


class Builder:
    """Creates the Brian2 objects of one network; see the module docstring."""

    def __init__(self, cfg: NetworkConfig, name: str, sample_starts, statistics: bool = False, plastic: bool = True):
        self.cfg, self.name, self.statistics = cfg, name, statistics
        # plastic=False: a network for testing only, without the code of the rule (errors, gradients,
        # updates); its forward pass and readouts are the same code as a plastic network's
        self.plastic = plastic
        self.rng = np.random.default_rng(cfg.seed)
        self.dt = cfg.dt_ms * b2.ms
        self.clock = b2.Clock(dt=self.dt, name=f"{name}_clock")
        self.objects = []
        self.learned = {}          # learned name -> (owner, variable)
        self.homeostasis = {}      # neuron group name -> its homeostasis units (homeostasis_tau_s > 0)
        self.initial_values = {}   # learned name -> values at build (standalone cannot read them before a run)
        # the user's own neuron file (an absolute path, which the loader takes as it is) or ours
        self.neuron_file = cfg.neuron_equations or f"neuron_{cfg.dynamics}.eqs"
        self.spike_driven = cfg.forward == "spike_driven"
        self.error_triggered = cfg.learning == "error_triggered"
        self.method = "exact" if cfg.dynamics == "continuous" else None
        self.surrogate = eq.expressions("surrogates.eqs", cfg.surrogate)
        # loss="custom": the three factors derived from the cost and the neuron (derive.py), used where
        # the hand-written sections of losses.eqs and surrogates.eqs are otherwise
        self.rule = derive.rule_for(cfg) if cfg.loss == "custom" else None
        if self.rule is not None:
            self.surrogate = {**self.surrogate, "dsigma": self.rule.post}
        # du/dw, du/db and the kept histories' traces: derived when the rule is, or a history is kept
        pre, bias, _, self.traces = (self.rule.pre, self.rule.bias, None, self.rule.traces) if self.rule else (
            derive.synaptic_for(cfg) if cfg.refractory_trace else ("p_pre", "1", None, ()))
        self.pre_factor = pre if pre == "p_pre" else f"({pre})"
        self.bias_factor = "err" if bias == "1" else f"err*({bias})"
        self.activation = (self.surrogate["sigma"] if cfg.readout_input == "sigmoid"
                           else ACTIVATIONS[cfg.readout_input])
        # constants in the float type of the state variables (devices.Target.precision), so
        # that float32 arithmetic is not widened to double and back at every synapse
        real = b2.prefs.core.default_float_dtype
        self.optimiser_constants = {k: real(getattr(cfg, k)) for k in OPTIMISER_CONSTANTS}   # (every group that learns)
        self.constants = {**self.optimiser_constants, "u_offset": real(cfg.u_offset),
                          "rate_target": real(cfg.rate_target)}
        self.sample_begins = (None if sample_starts is None
                              else b2.TimedArray(sample_starts, dt=self.dt, name=f"{name}_sample_begins"))

    # ---- helpers ----------------------------------------------------------------------
    def add_runner(self, code, group, key, label):
        """A run_regularly at the SCHEDULE slot ``key``; it runs with its group."""
        when, order = SCHEDULE[key]
        group.run_regularly(code, when=when, order=order, name=f"{group.name}_{label}")

    def move_events(self, runner, key):
        """Move a custom event's thresholder or a synaptic pathway to the SCHEDULE slot ``key``."""
        runner.when, runner.order = SCHEDULE[key]

    def add_sample_start(self, code, group):
        """Code run on the first step of every sample; groups with a learning schedule
        also restart their burn-in clock (that shared write must come first)."""
        if self.sample_begins is None:
            return
        if isinstance(group, b2.NeuronGroup) and "t_sample" in group.variables:  # (synapses see it as post's)
            code = eq.code("plasticity.eqs", "schedule_start") + code
        group.namespace["sample_begins"] = self.sample_begins
        self.add_runner(code, group, "sample_start", "sample_start")

    def norm_state(self, norm):
        """Model lines of the optimiser's per-parameter state (optimiser_state), named after ``norm``:
        SGD's velocity, Adamax's running norm, Adam's moments and step count, and with
        update_every='sample' the gradient summed over the sample ('norm' becomes 'mom', 'steps',
        'acc' in their names)."""
        names, optimiser = state_names(norm), self.cfg.optimiser
        lines = eq.code("optimisers.eqs", f"{optimiser}_state", **names) if OPTIMISER_STATE[optimiser] else ""
        if self.cfg.update_every == "sample":
            lines += eq.code("optimisers.eqs", "accumulator_state", **names)
        return lines

    def add_learned(self, spec, role, owner, var, values, grad, norm, lr="lr", gate="learning", runner=True):
        """One learned variable: its initial values, its optimiser state and update, and its name
        (layerN_w, layerN_b; the optimiser's state adds layerN_w_norm, ..._mom, ..._steps or ..._acc:
        optimiser_state). runner=False: the update is a pathway of the owner's (error-triggered
        learning), not a step of every synapse."""
        cfg = self.cfg
        self.set_initial(f"layer{spec.index}_{role}", owner, var, values)
        if not runner:
            return
        names = state_names(norm)
        # (learned values: a checkpoint keeps the optimiser's state, and the part of a sample's gradient
        # not yet applied)
        for suffix, start in optimiser_state(cfg, len(values)).items():
            self.set_initial(f"layer{spec.index}_{role}_{suffix}", owner, names[suffix], start)
        section = cfg.optimiser
        if cfg.update_every == "sample":
            owner.namespace["sample_begins"] = self.sample_begins
            section += "_sample"
        if self.plastic:
            code = eq.code("optimisers.eqs", section, param=var, grad=grad, lr=lr, gate=gate, **names)
            self.add_runner(code, owner, "update", f"{role}_update")

    def set_initial(self, name, owner, var, values):
        setattr(owner, var, values)
        self.learned[name] = (owner, var)
        self.initial_values[name] = np.array(values, dtype=float)

    def set_time_constants(self, group, source, n):
        """Time constants of n spike trains per replica (replicas are copies of one network);
        source: the LayerSpec (or, for the inputs, the NetworkConfig) holding them."""
        cfg, dt = self.cfg, self.cfg.dt_ms
        if cfg.random_tau:
            lo, hi = cfg.tau_range_ms
            tau_mem, tau_syn = self.rng.uniform(lo, hi, n), self.rng.uniform(lo, hi, n)
        else:
            tau_mem, tau_syn = np.full(n, source.tau_mem_ms), np.full(n, source.tau_syn_ms)
        if cfg.dynamics == "continuous":
            values = {"tau_mem": tau_mem * b2.ms, "tau_syn": tau_syn * b2.ms}
        elif cfg.random_tau:
            values = {"alpha": np.exp(-dt / tau_mem), "alpha_s": np.exp(-dt / tau_syn)}
        else:
            values = {"alpha": np.full(n, source.alpha), "alpha_s": np.full(n, source.alpha_s)}
        for var, value in values.items():
            setattr(group, var, np.tile(value, cfg.batch))

    def set_schedule(self, group):
        """Settings of a group that carries the learning schedule (lr, burn-in)."""
        group.lr = self.cfg.lr
        group.t_burnin = self.cfg.burnin_ms * b2.ms

    def add_error(self, group, spec):
        """The rule's per-neuron factor err_i on the group the readout reads."""
        group.p_drop = spec.dropout
        group.reg_u = self.cfg.reg_u
        group.reg_rate = self.cfg.reg_rate
        self.add_runner(eq.code("plasticity.eqs", "dropout"), group, "dropout", "dropout")
        if self.plastic:
            self.add_runner(eq.code("plasticity.eqs", "error"), group, "neuron_error", "error")
        if self.error_triggered:
            self.add_runner(eq.code("error_events.eqs", "modulation_reset"), group, "modulation_reset",
                            "modulation_reset")

    def set_positions(self, group, shape):
        """Positions of a group's units: replica, channel, row, column, and index within the replica."""
        n = math.prod(shape)
        c, r, w = np.unravel_index(np.arange(n), shape)
        group.rep = np.repeat(np.arange(self.cfg.batch), n)
        for var, values in (("unit", np.arange(n)), ("ch", c), ("row", r), ("col", w)):
            setattr(group, var, np.tile(values, self.cfg.batch))

    def neuron_model(self, *extra):
        return (eq.sections(self.neuron_file)["model"] + eq.sections("sharing.eqs")["position"]
                + self.spike_sections("neuron", "gain") + "".join(extra))

    def spike_sections(self, *names) -> str:
        """Sections of spike_driven.eqs, or nothing when the input is dense."""
        return "".join(eq.sections("spike_driven.eqs")[n] for n in names) if self.spike_driven else ""

    def spike_code(self, name) -> str:
        """A code block of spike_driven.eqs, or nothing when the input is dense."""
        return eq.code("spike_driven.eqs", name) if self.spike_driven else ""

    def make_forward_synapses(self, pre, post, dense_model, spike_model, name, namespace=None, learned=False,
                              gradient=False):
        """The feed-forward synapses: a summed variable read every step (dense), or an on_pre
        pathway driven by the presynaptic spikes (spike_driven); with error-triggered learning
        weights (learned=True: their own, or a shared kernel's through the linked w) update in an
        on_post pathway on the postsynaptic neuron's learning event (gradient=True: the pathway adds to
        the kernel's gradient of this step instead, which its optimiser steps)."""
        pathways = {}
        if self.spike_driven:
            pathways["on_pre"] = eq.code("spike_driven.eqs", "on_pre")
        if learned and self.error_triggered:
            pathways["on_post"] = eq.code("error_events.eqs",
                                          "on_learning_event_gradient" if gradient else "on_learning_event")
            pathways["on_event"] = {"post": "learning_event"}
            if gradient:
                extra = eq.sections("error_events.eqs")["kernel_gradient_link"]
                dense_model, spike_model = dense_model + extra, spike_model + extra
        syn = b2.Synapses(pre, post, spike_model if self.spike_driven else dense_model, clock=self.clock, name=name,
                          namespace=namespace, **pathways)
        if "on_post" in pathways:
            self.move_events(syn.post, "gradient" if gradient else "update")
        return syn

    def plasticity_model(self, spec):
        # the output layer's readout is its own u: a = u, da/du = 1
        dsigma, activation = ("1", "u") if spec.is_output else (self.surrogate["dsigma"], self.activation)
        return (eq.code("plasticity.eqs", "neuron", dsigma=dsigma, activation=activation)
                + eq.sections("plasticity.eqs")["schedule"])

    def make_neurons(self, spec, model, n_per_replica):
        cfg = self.cfg
        if self.statistics:
            model += eq.sections("statistics.eqs")["accumulators"]
        events = None
        if self.error_triggered:  # the neurons whose incoming connections learn (under a max-pool too)
            events = {"learning_event": eq.code("error_events.eqs", "learning_event")}
        group = b2.NeuronGroup(
            cfg.batch * spec.n_units, model, threshold=eq.code(self.neuron_file, "threshold"), events=events,
            reset=eq.code(self.neuron_file, "reset"), method=self.method, clock=self.clock,
            name=f"{self.name}_layer{spec.index}",
            namespace={"n_neurons": n_per_replica, "u_offset": self.constants["u_offset"], **self.optimiser_constants},
            dtype=TIME_DTYPES)
        if events:
            self.move_events(group.thresholder["learning_event"], "learning_events")
        self.set_time_constants(group, spec, spec.n_units)
        self.add_sample_start(eq.code(self.neuron_file, "sample_start") + self.spike_code("sample_start"), group)
        if cfg.dynamics == "discrete":
            group.alpha_r = spec.alpha_r
            self.add_runner(eq.code(self.neuron_file, "decay") + self.spike_code("decay"), group, "decay", "decay")
        else:
            group.tau_ref = spec.tau_ref_ms * b2.ms
        group.w_rp = cfg.w_rp
        if self.statistics:
            self.add_runner(eq.code("statistics.eqs", "accumulate"), group, "monitors", "statistics")
        self.objects.append(group)
        if cfg.homeostasis_tau_s > 0 and not spec.is_output:
            self.make_homeostasis(spec, group)
        return group

    def make_homeostasis(self, spec, neurons):
        """The homeostasis of a layer's neurons (homeostasis.eqs): one unit per neuron of a replica, holding
        its excitability h and rate estimate nu (learned values: layerN_h, layerN_nu), and one connection from
        each neuron of every replica to its unit, which counts its spikes and copies h back."""
        cfg, n, B = self.cfg, spec.n_units, self.cfg.batch
        units = b2.NeuronGroup(n, eq.sections("homeostasis.eqs")["unit"], clock=self.clock,
                               name=f"{neurons.name}_homeostasis", namespace={"n_replicas": B})
        units.nu_target = cfg.homeostasis_hz * b2.Hz
        units.tau_nu = cfg.homeostasis_window_s * b2.second
        units.tau_h = cfg.homeostasis_tau_s * b2.second
        self.set_initial(f"layer{spec.index}_h", units, "h", np.zeros(n))
        # the estimate starts at the target: h does not move before the neuron's rate is known
        self.set_initial(f"layer{spec.index}_nu", units, "nu", np.full(n, cfg.homeostasis_hz) * b2.Hz)
        pathways = {}
        if self.plastic:  # (a network for testing only keeps h as training left it)
            self.add_runner(eq.code("homeostasis.eqs", "update"), units, "homeostasis", "update")
            pathways["on_pre"] = eq.code("homeostasis.eqs", "on_spike")
        syn = b2.Synapses(neurons, units, eq.sections("homeostasis.eqs")["synapses"], clock=self.clock,
                          name=f"{neurons.name}_homeostasis_synapses", **pathways)
        syn.connect(i=np.arange(B * n), j=np.tile(np.arange(n), B))
        move_summed(syn, "h_pre", "homeostasis_copy")
        self.objects += [units, syn]
        self.homeostasis[neurons.name] = units

    # ---- groups ------------------------------------------------------------------------
    def make_inputs(self, spikes):
        cfg, nf = self.cfg, self.neuron_file
        inputs = b2.NeuronGroup(
            cfg.batch * cfg.n_inputs, eq.sections(nf)["input_model"] + eq.sections("sharing.eqs")["position"]
            + self.spike_sections("input_gain"),
            threshold=eq.code(nf, "input_threshold"), reset=eq.code(nf, "input_reset"),
            method=self.method, clock=self.clock, name=f"{self.name}_input",
            namespace={"spikes_in": b2.TimedArray(spikes, dt=self.dt)})
        self.set_time_constants(inputs, cfg, cfg.n_inputs)
        self.set_positions(inputs, cfg.input_shape or (cfg.n_inputs, 1, 1))
        self.add_sample_start(eq.code(nf, "input_sample_start"), inputs)
        if cfg.dynamics == "discrete":
            self.add_runner(eq.code(nf, "input_decay") + self.spike_code("input_gain_update"), inputs, "decay",
                            "decay")
        self.objects.append(inputs)
        return inputs

    def add_readout(self, layer: Layer, target) -> Layer:
        """The layer's local readout (and regulariser population) on its output group."""
        layer.readout, layer.readout_synapses = self.make_readout(layer.spec, layer.output, target)
        layer.population_synapses = self.make_population(layer.spec, layer.output)
        return layer

    def make_dense_layer(self, spec, pre) -> Layer:
        """A dense layer with its own weights (batch = 1): w_ij lives on the synapse."""
        n, fan_in = spec.n_units, spec.fan_in
        group = self.make_neurons(spec, self.neuron_model(eq.sections("plasticity.eqs")["bias"],
                                                          self.plasticity_model(spec), self.norm_state("norm_b")), n)
        if spec.bias:  # torch's default bias init, whatever the weight scale
            self.add_learned(spec, "b", group, "b", uniform(self.rng, 1 / np.sqrt(fan_in), n), self.bias_factor,
                             "norm_b")
        self.set_schedule(group)
        self.add_error(group, spec)
        # plastic feed-forward synapses, all-to-all with explicit indices (standalone devices know their
        # number before the run), in a declared layout (codegen: loops without index arrays)
        norm = self.norm_state("norm") + "".join(f"{name} : 1\n" for name, _ in self.traces)
        syn = self.make_forward_synapses(pre, group, eq.sections("plasticity.eqs")["synapse"] + norm,
                                         eq.sections("spike_driven.eqs")["synapse"] + norm,
                                         f"{group.name}_synapses", dict(self.optimiser_constants), learned=True)
        if self.traces:  # kept histories (refractory_trace): from rest at every sample, then every step
            self.add_sample_start("".join(f"{name} = (1 - sample_begins(t))*{name}\n" for name, _ in self.traces),
                                  syn)
            if self.plastic:
                self.add_runner("".join(f"{name} = {update}\n" for name, update in self.traces), syn,
                                "history_traces", "history_traces")
        connect_blocks(syn, 1, fan_in, n)
        self.objects.append(syn)
        self.add_learned(spec, "w", syn, "w", uniform(self.rng, spec.weight_scale / np.sqrt(fan_in), fan_in * n),
                         f"err_post*{self.pre_factor}", "norm", lr="lr_post", gate="learning_post",
                         runner=not self.error_triggered)
        return Layer(spec=spec, output=group, neurons=group, synapses=syn)

    def make_readout(self, spec, output, target):
        """The layer's fixed random readout; replicas share g and c (block-diagonal connections)."""
        cfg, B = self.cfg, self.cfg.batch
        n, n_out = spec.n_outputs, spec.readout_size
        rule = self.rule
        loss = {"loss": rule.loss, "grad": rule.delta} if rule else eq.expressions("losses.eqs", cfg.loss)
        sums = (rule.sums + rule.back_sums) if rule else ()
        events, sections = None, "".join(eq.code("readout_sums.eqs", "link", var=name) for name, _ in sums)
        if self.error_triggered:
            sections += eq.sections("error_events.eqs")["readout"]
            events = {"error_event": eq.code("error_events.eqs", "error_event")}
        readout = b2.NeuronGroup(
            B * n_out, eq.code("readout.eqs", "model", loss=loss["loss"]) + sections, clock=self.clock,
            name=f"{output.name}_readout", events=events,
            namespace={"n_out": n_out, "target": b2.TimedArray(target, dt=self.dt)})
        bound = cfg.readout_amplitude / np.sqrt(n)
        readout.c = 0.0 if spec.is_output else np.tile(uniform(self.rng, bound, n_out), B)
        self.objects.append(readout)
        error = eq.code("readout.eqs", "error", grad=loss["grad"])
        if sums:  # the target, then the readout-wide sums, then the error
            self.add_runner(eq.code("readout.eqs", "target"), readout, "readout_error", "target")
            self.make_readout_sums(readout, n_out)
        else:
            error = eq.code("readout.eqs", "target") + error
        model, pathways = eq.sections("readout.eqs")["synapses"], {}
        if self.error_triggered:  # the error goes back as events, not as a summed variable
            readout.theta = cfg.error_threshold
            error += eq.code("error_events.eqs", "accumulate")
            self.add_sample_start(eq.code("error_events.eqs", "sample_start"), readout)
            self.move_events(readout.thresholder["error_event"], "error_events")
            pathways = {"on_post": eq.code("error_events.eqs", "on_error_event"), "on_event": {"post": "error_event"}}
        elif self.plastic:
            model += eq.sections("readout.eqs")["modulation"]
        rsyn = b2.Synapses(output, readout, model, clock=self.clock, name=f"{output.name}_readout_synapses",
                           **pathways)
        self.add_runner(error, readout, "readout_delta" if sums else "readout_error", "error")
        if spec.is_output:  # y_k = u_k: one-to-one
            connect_blocks(rsyn, B * n, 1, 1)
            rsyn.g = 1.0
        else:  # all-to-all within each replica
            connect_blocks(rsyn, B, n, n_out)
            rsyn.g = np.tile(uniform(self.rng, bound, n * n_out), B)
        move_summed(rsyn, "ysum_post", "readout")
        if self.error_triggered:
            self.move_events(rsyn.post, "modulation")
        elif self.plastic:
            move_summed(rsyn, "m_pre", "modulation")
        self.objects.append(rsyn)
        return readout, rsyn

    def make_readout_sums(self, readout, n_out):
        """The units holding a derived cost's sums over each readout (one per replica; readout_sums.eqs)."""
        B, rule = self.cfg.batch, self.rule
        names = [name for name, _ in rule.sums + rule.back_sums]
        unit = b2.NeuronGroup(B, "".join(eq.code("readout_sums.eqs", "unit", var=n) for n in names),
                              clock=self.clock, name=f"{readout.name}_sums")
        # a unit's terms read its readout's y and yhat, and the second sums read the first ones
        local = {"y": "y_pre", "yhat": "yhat_pre", **{n: f"{n}_post" for n, _ in rule.sums}}
        model = "".join(eq.code("readout_sums.eqs", "synapse", var=name, term=word_substitute(term, local))
                        for name, term in rule.sums + rule.back_sums)
        syn = b2.Synapses(readout, unit, model, clock=self.clock, name=f"{readout.name}_sums_synapses",
                          namespace={"n_out": n_out})
        replica = np.repeat(np.arange(B), n_out)
        syn.connect(i=np.arange(B * n_out), j=replica)
        for name, _ in rule.sums:
            move_summed(syn, f"{name}_post", "readout_sums")
        for name, _ in rule.back_sums:
            move_summed(syn, f"{name}_post", "readout_back_sums")
        for name in names:
            setattr(readout, name, b2.linked_var(unit, name, index=replica))
        self.objects += [unit, syn]

    def make_population(self, spec, output):
        """The activity regulariser's population unit, one per replica, and its synapses (only when it is on)."""
        cfg, B = self.cfg, self.cfg.batch
        if cfg.reg_rate <= 0:
            return None
        n = spec.n_outputs
        population = b2.NeuronGroup(B, eq.sections("plasticity.eqs")["population"], clock=self.clock,
                                    name=f"{output.name}_population")
        psyn = b2.Synapses(output, population, eq.sections("plasticity.eqs")["population_synapses"],
                           clock=self.clock, name=f"{output.name}_population_synapses",
                           namespace={"n_neurons": n, "rate_target": self.constants["rate_target"]})
        connect_blocks(psyn, B, n, 1)
        move_summed(psyn, "deficit_post", "readout")
        move_summed(psyn, "low_rate_pre", "modulation")
        self.objects += [population, psyn]
        return psyn


def uniform(rng, bound, size):
    """Values drawn uniformly from [-bound, bound)."""
    return rng.uniform(-bound, bound, size=size)


def move_summed(synapses, target, key):
    """Move a summed variable's update to the SCHEDULE slot ``key``."""
    updater = synapses.summed_updaters[target]
    updater.when, updater.order = SCHEDULE[key]
