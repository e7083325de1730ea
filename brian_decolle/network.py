"""A built DECOLLE network: build it, run it, set and read its weights.

Within one time step the operations run in this order (Brian2 slot, order;
``build.SCHEDULE``); it reproduces decolle-public's LIFLayer step for step:

====================  ===========  ==================================================
operation             slot, order  what
====================  ===========  ==================================================
sample start          start, -1    first step of a sample: traces and refractory state to 0
decay                 start, 0     p <- alpha p + (1-alpha) q;  q <- alpha_s q;  r decays
                                   and takes the previous step's spike (discrete only;
                                   continuous dynamics integrate their ODEs in 'groups')
bias copy             start, 1     shared biases copied to their neurons
homeostasis copy      start, 2     each neuron's excitability h_i from its homeostasis unit
synaptic input        groups, -1   isyn_i = sum_j w_ij p_j (summed variable; spike-driven:
                                   decayed with the neuron, raised by on_pre)
max-pool              thresholds,-1  u of a pooled unit = max of its window, and the winner
threshold             thresholds   spike when u = isyn + r + b + h > 0
reset                 resets       q += gain; remember the spike for r
dropout               end, 0       mask_i redrawn
readout               end, 10      y_k = sum_i g_ki mask_i a_i + c_k  (and the layer's mean
                                   logistic(u) for the activity regulariser)
readout error         end, 20      delta_k = dL/dy_k against the pseudo-target (a derived
                                   cost with readout-wide sums: only the pseudo-target here)
readout sums          end, 21      a derived cost's sums over the units of each readout
readout back sums     end, 22      the second sums their derivatives read, sum_l dL_l/dZ
readout delta         end, 23      with such sums: delta_k = dL/dy_k, after them
error events          end, 25      error-triggered: delta_k into the accumulator; events of
                                   n_k whole thresholds (s+ - s-)
modulation reset      end, 28      error-triggered: m_i = 0 before the events arrive
modulation            end, 30      m_i = sum_k g_ki delta_k  (and the regulariser flag);
                                   error-triggered: the events add g_ki theta n_k
neuron error          end, 40      err_i = sigma'(u_i) mask_i m_i + regulariser terms
pooled error          end, 50      under a max-pool: the winning member takes the pooled err
learning events       end, 55      error-triggered: a custom event where err_i != 0 (under a
                                   max-pool: on the members, after they take the pooled err)
monitors              end, 60      record the state the update is about to use
gradient              end, 70      shared kernels and biases sum err_i p_j and err_i
update                end, 90      w_ij -= lr err_i p_j;  b_i -= lr err_i  (or Adamax);
                                   error-triggered: on the learning events only
history traces        end, 95      refractory_trace: d r_i/d w_ij for the next step
homeostasis           end, 96      h_i follows the target rate (homeostasis_tau_s > 0)
====================  ===========  ==================================================

Because p only ever reads q of the previous step, all layers threshold in the
same slot and layer n+1 sees layer n's spike of step t at step t+1, as in the
reference.

Every run, on every device, takes its settings from ONE function,
:meth:`DecolleNetwork.parameter_values`: learning on or off, dropout on or
off, a saved learned state, and (for re-runs of a compiled standalone build)
new input spikes, pseudo-targets and sample starts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import brian2 as b2
import numpy as np
from brian2.core.variables import VariableView

from . import devices
from .build import OPTIMISER_STATE, SCHEDULE, Builder, Layer
from .checks import ConfigError
from .config import NetworkConfig, check_burnin
from .convolution import make_shared_layer, pool_windows

NEURON_VARIABLES = ("u", "isyn", "b", "h", "r", "p", "q", "sg", "act", "mask", "m", "err", "logistic", "low_rate")
READOUT_VARIABLES = ("y", "yhat", "delta", "loss")
#: the runs whose synaptic work is counted apart: learning on, and learning off (tests)
PHASES = {True: "learning", False: "test"}
SYNAPSE_VARIABLES = ("w", "norm", "mom", "dr_dw")
KERNEL_VARIABLES = ("w", "grad")
RECORDED = ("state", "readout", "synapses", "spikes", "kernel", "prepool")


@dataclass
class DecolleNetwork:
    """The Brian2 objects of one built network, its settings and read-back helpers."""

    cfg: NetworkConfig
    n_steps: int
    network: b2.Network
    inputs: b2.NeuronGroup
    layers: list[Layer] = field(default_factory=list)
    learned: dict = field(default_factory=dict)          # learned name -> (owner, variable)
    initial_values: dict = field(default_factory=dict)   # learned name -> values at build
    monitors: dict = field(default_factory=dict)
    pending: dict = field(default_factory=dict)          # (owner, variable) -> values for the next run
    steps_done: int = 0
    plastic: bool = True                                 # False: built without the rule's code (testing)
    start_args: dict = field(default_factory=dict)       # run_args under every run_again's settings (another
                                                         # configuration's start values: OnlineClassifier.adopt)
    _fan_cache: dict = field(default_factory=dict, repr=False)   # synapses name -> fans (synaptic_operations)

    # ---- the one place where settings become parameter values -------------------------
    def parameter_values(self, *, learn: bool = True, lr: float | None = None, dropout: bool | None = None,
                         state: dict | None = None, spikes=None, targets=None, sample_starts=None) -> list[tuple]:
        """(owner, variable, value) for everything a run is set up with.

        learn: lr of every learning group is ``lr`` (default cfg.lr, e.g. lowered by a
        schedule) times its layer's lr_scale, or 0 (no update).
        dropout: each layer's dropout (default: on while learning), or 0.
        state: learned values by name (see ``learned_state``), e.g. a checkpoint.
        spikes, targets, sample_starts: new inputs for a re-run of a standalone build
        (owner: the TimedArray, variable None); on runtime they are given to build_network.
        Values waiting from ``set_weights`` come last. Each (owner, variable) appears once.
        """
        if learn and not self.plastic:
            raise ConfigError("learn=True: this network was built for testing only (plastic=False); run it with "
                              "learn=False or build it with plastic=True")
        dropout = learn if dropout is None else dropout
        values = {}

        def put(owner, var, value):
            values[(owner.name, var)] = (owner, var, value)

        base = self.cfg.lr if lr is None else lr
        for layer in self.layers:
            for group in layer.schedule_groups():
                put(group, "lr", base * layer.spec.lr_scale if learn else 0.0)
            put(layer.output, "p_drop", layer.spec.dropout if dropout else 0.0)
            if layer.homeostasis is not None:
                put(layer.homeostasis, "h_on", 1.0 if learn else 0.0)
        if state is not None:
            missing = sorted(set(self.learned) - set(state))
            if missing:
                raise ConfigError(f"state lacks {', '.join(missing)}; it must hold every learned variable")
            for name, (owner, var) in self.learned.items():   # (in base units: a rate estimate in Hz)
                put(owner, var, b2.Quantity(np.asarray(state[name], dtype=float), dim=owner.variables[var].dim))
        cfg, n = self.cfg, self.n_steps
        if spikes is not None:
            put(self.inputs.namespace["spikes_in"], None, check_spikes(spikes, n, cfg.batch * cfg.n_inputs))
        if targets is not None:
            checked = check_targets(targets, n, cfg)
            for layer, target in zip(self.layers, checked):
                put(layer.readout.namespace["target"], None, target)
        if sample_starts is not None:
            put(self.inputs.namespace["sample_begins"], None, check_sample_starts(sample_starts, n))
        for owner, var in self.pending:
            put(owner, var, self.pending[(owner, var)])
        return list(values.values())

    def run(self, n_steps=None, *, learn=True, lr=None, dropout=None, state=None, seed=None, record=True,
            report=None):
        """Simulate n_steps (default: all that are left) from where the last run stopped.

        learn=False freezes weights and biases and switches dropout off (unless
        dropout=True), as for the paper's recordings and for testing. state puts
        back learned values. seed seeds Brian2's random numbers (dropout masks)
        first. record says which monitors run: True, False, or some of RECORDED.
        On standalone devices the runs are recorded and happen at ``devices.build``.
        """
        steps = self.n_steps - self.steps_done if n_steps is None else n_steps
        if not isinstance(steps, int) or not 0 < steps <= self.n_steps - self.steps_done:
            raise ConfigError(f"n_steps={n_steps!r}: {self.n_steps - self.steps_done} of the input's "
                              f"{self.n_steps} steps are left to run")
        if record is True or record is False:
            record = set(RECORDED) if record else set()
        if not set(record) <= set(RECORDED):
            raise ConfigError(f"record={record!r}: choose True, False or some of {list(RECORDED)}")
        for owner, var, value in self.parameter_values(learn=learn, lr=lr, dropout=dropout, state=state):
            setattr(owner, var, value)
        self.pending.clear()
        for key, monitor in self.monitors.items():   # (operation counters count every run of their phase)
            monitor.active = key[0] in record or (key[0] == "events" and key[3] == PHASES[bool(learn)])
        if seed is not None:
            devices.seed(seed)
        self.network.run(steps * self.cfg.dt_ms * b2.ms, namespace={}, report=report)
        self.steps_done += steps

    def run_again(self, *, seed: int, **settings) -> None:
        """Run a compiled standalone build once more, from t = 0, with new settings
        (the keywords of ``parameter_values``) over ``start_args``; its run-args files are deleted after."""
        args = {}
        for owner, var, value in self.parameter_values(**settings):
            args[owner if var is None else getattr(owner, var)] = value
        # (a value the settings give wins: one variable must not reach the program twice)
        given = {id(_run_arg_target(key)) for key in args}
        args.update({key: value for key, value in self.start_args.items() if id(_run_arg_target(key)) not in given})
        self.pending.clear()
        devices.run_again(args, seed=seed)

    def synaptic_operations(self, steps: int, *, learning: bool = True) -> list[dict]:
        """Per layer, the synaptic work of the counted runs with learning on (learning=False: of the runs
        with learning off, such as tests), which took ``steps`` time steps in all (build_network(...,
        count_operations=True)). Every figure counts one operation per connection it runs over:

        - forward: dense, every connection every step; spike-driven, presynaptic events x their fan-out;
        - update (learning on): Eq. 5, every connection every step; error-triggered, learning events x
          the neuron's fan-in;
        - readout: the local readout's forward sum (every connection every step), with learning on its
          error sent back (Eq. 5, every connection every step; error-triggered, error events x the
          readout unit's fan-out), and the activity regulariser's population sums where they exist;

        each with its dense equivalent (``dense_*``), the events that drive them, and with error-
        triggered learning the learning and error events. On standalone devices: the last run's counts."""
        phase = PHASES[bool(learning)]
        out = []
        for k, layer in enumerate(self.layers, start=1):
            counts = self.monitors.get(("events", k, "forward", phase))
            if counts is None:
                raise ConfigError(f"synaptic_operations(learning={learning}) needs a network built with "
                                  "count_operations=True" + ("" if self.plastic else " and plastic=True"))
            fan_out, fan_in, readout_fan_out = self._fans(layer)
            n_syn, n_readout = int(fan_out.sum()), int(readout_fan_out.sum())
            forward_events = np.asarray(counts.count[:])
            dense = n_syn * steps
            readout_dense = n_readout * steps * (2 if learning else 1)
            population = layer.population_synapses
            regulariser = 0 if population is None else 2 * layer.spec.n_outputs * self.cfg.batch * steps
            row = {"layer": k, "connections": n_syn, "readout_connections": n_readout,
                   "forward_events": int(forward_events.sum()),
                   "forward_operations": (int(forward_events @ fan_out) if self.cfg.forward == "spike_driven"
                                          else dense),
                   "dense_forward_operations": dense,
                   "readout_operations": readout_dense + regulariser,
                   "dense_readout_operations": readout_dense + regulariser}
            if learning:
                row.update(update_operations=dense, dense_update_operations=dense)
            if learning and self.cfg.learning == "error_triggered":
                events = np.asarray(self.monitors[("events", k, "learning", phase)].count[:])
                errors = np.asarray(self.monitors[("events", k, "error", phase)].count[:])
                row.update(learning_events=int(events.sum()), error_events=int(errors.sum()),
                           update_operations=int(events @ fan_in))
                row["readout_operations"] = n_readout * steps + int(errors @ readout_fan_out) + regulariser
            out.append(row)
        return out

    def _fans(self, layer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A layer's connections per presynaptic unit (fan-out), per neuron (fan-in) and per readout unit,
        read once (a standalone device reads the index arrays from its files)."""
        if layer.synapses.name not in self._fan_cache:
            syn, rsyn = layer.synapses, layer.readout_synapses
            self._fan_cache[syn.name] = (np.bincount(np.asarray(syn.i[:]), minlength=len(syn.source)),
                                         np.bincount(np.asarray(syn.j[:]), minlength=len(syn.target)),
                                         np.bincount(np.asarray(rsyn.j[:]), minlength=len(rsyn.target)))
        return self._fan_cache[layer.synapses.name]

    # ---- weights in the reference (torch) layout -------------------------------------
    def get_weights(self, layer: int) -> dict[str, np.ndarray]:
        """Weights of ``layer`` (1-based) as decolle/PyTorch lays them out: w (out, in) for a
        dense layer or (out_ch, in_ch, kh, kw) for a conv layer, b (out,) or (out_ch,) (absent
        when the layer has no bias), and its readout's g (readout, n_outputs) and c (readout,).
        On standalone devices: the values after the last run."""
        part = self._layer(layer)
        spec = part.spec
        out = {"w": self.kernel_layout(layer, getattr(*self.learned[f"layer{layer}_w"])[:])}
        if spec.bias:
            out["b"] = np.array(getattr(*self.learned[f"layer{layer}_b"])[:])
        n, k = spec.n_outputs, spec.readout_size
        # the output layer's readout is its own u, one connection per unit: g is the identity
        out["g"] = np.eye(k) if spec.is_output else np.array(part.readout_synapses.g[:])[:n * k].reshape(n, k).T
        out["c"] = np.array(part.readout.c[:])[:k]
        return out

    def set_weights(self, layer: int, *, w=None, b=None, g=None, c=None) -> None:
        """Put weights given in ``get_weights``' layout into ``layer``: at once on runtime, at
        the next run (or ``run_again``) on standalone devices."""
        part = self._layer(layer)
        spec, B = part.spec, self.cfg.batch
        n, k = spec.n_outputs, spec.readout_size
        expected = {"w": self.kernel_layout(layer, np.zeros(spec.n_kernel)).shape, "b": (spec.channels,),
                    "g": (k, n), "c": (k,)}
        given = {"w": w, "b": b, "g": g, "c": c}
        if b is not None and not spec.bias:
            raise ConfigError(f"set_weights: layer {layer} has no bias (bias=False)")
        if spec.is_output and (g is not None or c is not None):
            raise ConfigError(f"set_weights: layer {layer} is the output layer, whose readout is its own u "
                              "(g the identity, c = 0); give only w and b")
        for name, value in given.items():
            if value is None:
                continue
            value = np.asarray(value, dtype=float)
            if value.shape != expected[name] or not np.all(np.isfinite(value)):
                raise ConfigError(f"set_weights: {name} of layer {layer} must be a finite array of shape "
                                  f"{expected[name]}, not {value.shape}")
            if name == "w":
                owner, var = self.learned[f"layer{layer}_w"]
                flat = self.stored_layout(layer, value)
            elif name == "b":
                (owner, var), flat = self.learned[f"layer{layer}_b"], value
            elif name == "g":
                owner, var, flat = part.readout_synapses, "g", np.tile(value.T.ravel(), B)
            else:
                owner, var, flat = part.readout, "c", np.tile(value, B)
            if devices.is_standalone():
                self.pending[(owner, var)] = flat
            else:
                setattr(owner, var, flat)

    def kernel_layout(self, layer: int, values) -> np.ndarray:
        """Weights as stored (kernel groups: in, out, row, column; dense synapses: in, out)
        in the torch layout: conv (out, in, row, column); dense (out, in)."""
        spec = self._layer(layer).spec
        values = np.array(values)
        if spec.is_conv:
            return values.reshape(spec.input_shape[0], spec.channels, spec.kernel, spec.kernel).transpose(1, 0, 2, 3)
        return values.reshape(spec.n_inputs, spec.n_units).T

    def stored_layout(self, layer: int, weights) -> np.ndarray:
        """The inverse of ``kernel_layout``: torch-layout weights as stored (flat)."""
        spec = self._layer(layer).spec
        weights = np.asarray(weights, dtype=float)
        return (weights.transpose(1, 0, 2, 3) if spec.is_conv else weights.T).ravel()

    def membrane_statistics(self, layer: int) -> dict[str, np.ndarray]:
        """Sums gathered by ``build_network(statistics=True)`` in the last run, per neuron
        (all replicas): u_sum, u_sq, i_abs (sum of |isyn|; over counted steps) and n_counted (steps)."""
        neurons = self._layer(layer).neurons
        if "u_sum" not in neurons.variables:
            raise ConfigError("membrane statistics were not gathered: build with statistics=True")
        return {"u_sum": np.array(neurons.u_sum[:]), "u_sq": np.array(neurons.u_sq[:]),
                "i_abs": np.array(neurons.i_abs[:]), "n_counted": float(np.asarray(neurons.n_counted[:]).ravel()[0])}

    def reached(self, layer: int, i_abs: np.ndarray) -> np.ndarray:
        """Whether any synaptic input reached each output unit of ``layer`` (all replicas), from the neurons'
        sums of |isyn| (``membrane_statistics``' i_abs): a neuron whose sum is 0 got none; a max-pooled unit
        was reached when any neuron of its window was."""
        spec = self._layer(layer).spec
        got = np.asarray(i_abs).reshape(self.cfg.batch, spec.n_units) > 0
        if spec.pool > 1:
            members, _, _ = pool_windows(spec.unit_shape, spec.pool)
            got = got[:, members].any(axis=2)
        return got.ravel()

    # ---- learned state (checkpoints) ------------------------------------------------
    def learned_state(self, initial: bool = False) -> dict[str, np.ndarray]:
        """A copy of every learned value (weights, biases, Adamax norms) by name, e.g. for a
        checkpoint; initial=True: as built (standalone devices cannot read values before a run)."""
        if initial:
            return {name: values.copy() for name, values in self.initial_values.items()}
        return {name: np.array(getattr(owner, var)[:]) for name, (owner, var) in self.learned.items()}

    # ---- recordings, as numpy arrays indexed [recorded step, ...] ---------------------
    def state(self, layer: int, var: str) -> np.ndarray:
        """A recorded neuron variable of ``layer`` (0 = the input, p and q only): (n_steps, n_units)."""
        return self._monitor(("state", layer), var)

    def prepool(self, layer: int, var: str = "u") -> np.ndarray:
        """A recorded variable of a max-pooled layer's neurons, before the pool: (n_steps, n_units)."""
        return self._monitor(("prepool", layer), var)

    def readout(self, layer: int, var: str = "y") -> np.ndarray:
        """A recorded readout variable of ``layer``: (n_steps, n_out)."""
        return self._monitor(("readout", layer), var)

    def synapse_trace(self, layer: int, var: str = "w") -> np.ndarray:
        """A recorded synaptic variable of a dense ``layer``: (n_steps, n_pre, n_post)."""
        spec = self._layer(layer).spec
        data = self._monitor(("synapses", layer), var)
        return data.reshape(len(data), spec.fan_in, spec.n_units)

    def kernel_trace(self, layer: int, var: str = "w") -> np.ndarray:
        """A recorded variable of a layer's shared kernel, in the torch layout: (n_steps, *w.shape)."""
        data = self._monitor(("kernel", layer), var)
        return np.stack([self.kernel_layout(layer, row) for row in data])

    def spikes(self, layer: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Spikes of ``layer`` (0 = the input) in steps [start, stop): (steps, n_units) of 0/1."""
        mon = self.monitors.get(("spikes", layer))
        if mon is None:
            raise ConfigError(f"spikes of layer {layer} were not recorded: build with record_spikes=True")
        stop = self.n_steps if stop is None else stop
        group = self.inputs if layer == 0 else self.layers[layer - 1].output
        out = np.zeros((stop - start, len(group)))
        steps = np.round(np.asarray(mon.t / b2.ms) / self.cfg.dt_ms).astype(int)
        keep = (steps >= start) & (steps < stop)
        out[steps[keep] - start, np.asarray(mon.i)[keep]] = 1.0
        return out

    def _layer(self, layer: int) -> Layer:
        if not isinstance(layer, int) or not 1 <= layer <= len(self.layers):
            raise ConfigError(f"layer={layer!r} must be one of 1..{len(self.layers)}")
        return self.layers[layer - 1]

    def _monitor(self, key, var):
        mon = self.monitors.get(key)
        if mon is None or var not in mon.record_variables:
            raise ConfigError(f"{var!r} of {key[0]} {key[1]} was not recorded; pass it to build_network")
        return np.asarray(getattr(mon, var)).T


def _run_arg_target(key):
    """What a run_args key sets: a VariableView's variable (each view of it is a new object), or the TimedArray."""
    return key.variable if isinstance(key, VariableView) else key


def _check_array(name: str, array, shape) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    if array.shape != tuple(shape):
        raise ConfigError(f"{name} has shape {array.shape}; expected {tuple(shape)} (n_steps, units)")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{name} holds NaN or infinite values")
    return array


def check_spikes(spikes, n_steps, n_in) -> np.ndarray:
    spikes = _check_array("spikes", spikes, (n_steps, n_in))
    if np.any((spikes < 0) | (spikes != np.round(spikes))):
        raise ConfigError("spikes must hold counts of events per input and step: integers >= 0")
    return spikes


def check_targets(targets, n_steps, cfg) -> list[np.ndarray]:
    if len(targets) != cfg.n_layers:
        raise ConfigError(f"targets holds {len(targets)} arrays; expected one per layer ({cfg.n_layers})")
    return [_check_array(f"targets[{k}]", t, (n_steps, cfg.batch * spec.readout_size))
            for k, (t, spec) in enumerate(zip(targets, cfg.layers))]


def check_sample_starts(starts, n_steps) -> np.ndarray:
    starts = _check_array("sample_starts", np.asarray(starts, dtype=float)[:, None], (n_steps, 1))[:, 0]
    if np.any((starts != 0) & (starts != 1)):
        raise ConfigError("sample_starts must hold only 0 and 1")
    return starts


def build_network(cfg: NetworkConfig, spikes, targets, *, sample_steps=None, sample_starts=None, record_state=(),
                  record_readout=("y", "yhat", "loss"), record_synapses=(), record_kernels=(), record_prepool=(),
                  record_spikes=False, record_neurons=True, statistics=False, count_operations=False,
                  plastic=True, name="decolle") -> DecolleNetwork:
    """Build the network for one input sequence (one sample, or many samples back to back).

    spikes:  (n_steps, batch * n_inputs) array of event counts (usually 0/1), the input spike trains;
             replica b owns columns b*n_inputs .. (b+1)*n_inputs - 1, and an
             image input is flattened as (channel, row, column).
    targets: one (n_steps, batch * readout_size) array per layer, the pseudo-targets.
    plastic: False builds a network for testing only: the forward pass and readouts without the
        rule's code (errors, kernel gradients, updates), to be run with learn=False.
    sample_steps: if given, the sequence is a concatenation of samples of this
        many steps; every sample starts from rest and has its own burn-in.
    sample_starts: instead of sample_steps, samples of any lengths: (n_steps,)
        0/1, 1 on the first step of every sample.
    record_*: variables to monitor (every step, at the 'monitors' slot): neuron
        state (of what each layer outputs), readouts, dense synapses, shared
        kernel entries (conv or batch > 1), and the neurons under a max-pool;
    record_neurons: which neurons' states to record (True = all, or indices).
    statistics: every layer's neurons sum u and u^2 after each sample's burn-in
        (``membrane_statistics``).
    count_operations: count the events that drive synaptic work (``synaptic_operations``).
    Brian2's random numbers (dropout) are seeded by the caller: ``run(seed=...)``.
    """
    if not isinstance(cfg, NetworkConfig):
        raise ConfigError(f"cfg must be a NetworkConfig, not {type(cfg).__name__}")
    n_in = cfg.batch * cfg.n_inputs
    spikes = np.asarray(spikes)
    if spikes.ndim != 2 or spikes.shape[0] < 1:
        raise ConfigError(f"spikes has shape {spikes.shape}; expected (n_steps >= 1, batch*n_inputs={n_in})")
    n_steps = spikes.shape[0]
    spikes = check_spikes(spikes, n_steps, n_in)
    targets = check_targets(targets, n_steps, cfg)
    for what, chosen, allowed in (("record_state", record_state, NEURON_VARIABLES),
                                  ("record_prepool", record_prepool, NEURON_VARIABLES),
                                  ("record_readout", record_readout, READOUT_VARIABLES),
                                  ("record_synapses", record_synapses, SYNAPSE_VARIABLES),
                                  ("record_kernels", record_kernels, KERNEL_VARIABLES)):
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
        sample_starts = check_sample_starts(sample_starts, n_steps)
    if plastic and cfg.lr > 0:   # (a network that will not learn may be as short as it likes)
        bounds = np.union1d([0, n_steps], [] if sample_starts is None else np.flatnonzero(sample_starts))
        check_burnin(cfg, int(np.diff(bounds).max()))
    if cfg.update_every == "sample" and sample_starts is None:
        raise ConfigError("update_every='sample' applies a sample's summed gradient when the next sample starts: "
                          "give sample_steps or sample_starts")
    for var in ("norm", "mom"):   # (the optimiser's state)
        if var in record_synapses and var not in OPTIMISER_STATE[cfg.optimiser]:
            owners = " or ".join(repr(name) for name, state in OPTIMISER_STATE.items() if var in state)
            raise ConfigError(f"record_synapses {var!r} exists only with optimiser={owners}")
    if "dr_dw" in record_synapses and not cfg.refractory_trace:
        raise ConfigError("record_synapses 'dr_dw' exists only with refractory_trace=True")
    if record_synapses and any(spec.shared for spec in cfg.layers):
        raise ConfigError("record_synapses needs dense layers and batch=1; record shared kernels with "
                          "record_kernels")

    if not plastic and (cfg.learning != "dense" or record_synapses or record_kernels):
        raise ConfigError("plastic=False (a network for testing only) needs learning='dense' and records no "
                          "synapses or kernels")
    builder = Builder(cfg, name, sample_starts, statistics=statistics, plastic=plastic)
    dn = DecolleNetwork(cfg=cfg, n_steps=n_steps, network=None, inputs=builder.make_inputs(spikes),
                        learned=builder.learned, initial_values=builder.initial_values, plastic=plastic)
    pre = dn.inputs
    for spec, target in zip(cfg.layers, targets):
        layer = make_shared_layer(builder, spec, pre) if spec.shared else builder.make_dense_layer(spec, pre)
        layer.homeostasis = builder.homeostasis.get(layer.neurons.name)
        dn.layers.append(builder.add_readout(layer, target))
        pre = layer.output

    when, order = SCHEDULE["monitors"]
    clock = builder.clock

    def monitor(key, source, variables, record=True):
        dn.monitors[key] = b2.StateMonitor(source, list(variables), record=record, when=when, order=order,
                                           clock=clock, name=f"{source.name}_monitor")

    input_vars = [v for v in record_state if v in ("p", "q")]
    if input_vars:
        monitor(("state", 0), dn.inputs, input_vars,
                record_neurons if record_neurons is True else [i for i in record_neurons if i < n_in])
    for k, layer in enumerate(dn.layers, start=1):
        missing = [v for v in record_state if v not in layer.output.variables]
        if missing:
            raise ConfigError(f"record_state holds {', '.join(missing)}, which layer {k}'s max-pooled units "
                              f"lack; they have {', '.join(v for v in NEURON_VARIABLES if v in layer.output.variables)}"
                              "; record_prepool reads the neurons under the pool")
        if record_state:
            monitor(("state", k), layer.output, record_state, record_neurons)
        if record_prepool and layer.output is not layer.neurons:
            monitor(("prepool", k), layer.neurons, record_prepool, record_neurons)
        if record_readout:
            monitor(("readout", k), layer.readout, record_readout)
        if record_synapses:
            monitor(("synapses", k), layer.synapses, record_synapses)
        if record_kernels and layer.kernel is not None:
            monitor(("kernel", k), layer.kernel, record_kernels)
    outputs = [dn.inputs] + [layer.output for layer in dn.layers]  # outputs[k - 1]: what layer k reads
    if record_spikes:
        for k, group in enumerate(outputs):
            dn.monitors[("spikes", k)] = b2.SpikeMonitor(group, name=f"{group.name}_spikes")
    if count_operations:  # event counts per unit, without the events themselves, apart for each phase
        for phase in PHASES.values() if plastic else (PHASES[False],):
            for k, (layer, source) in enumerate(zip(dn.layers, outputs), start=1):
                label = f"{layer.neurons.name}_{phase}"
                dn.monitors[("events", k, "forward", phase)] = b2.SpikeMonitor(source, record=False,
                                                                               name=f"{label}_forward_events")
                if cfg.learning == "error_triggered" and phase == PHASES[True]:
                    dn.monitors[("events", k, "learning", phase)] = b2.EventMonitor(
                        layer.neurons, "learning_event", record=False, name=f"{label}_learning_events")
                    dn.monitors[("events", k, "error", phase)] = b2.EventMonitor(
                        layer.readout, "error_event", record=False, name=f"{label}_error_events")
    dn.network = b2.Network(builder.objects + list(dn.monitors.values()), name=f"{name}_network")
    return dn
