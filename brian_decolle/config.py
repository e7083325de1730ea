"""Typed configuration of a DECOLLE network, validated once when it is made.

Every error names the parameter, its value and what is allowed, so that a bad
value never reaches Brian2.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import derive
from . import equations as eq
from .checks import (ConfigError, check_bool, check_choice, check_count, check_decay, check_finite,  # noqa: F401
                     check_index, check_non_negative, check_positive, per_layer)  # (re-exported)

SURROGATES = ("sigmoid", "fast_sigmoid", "box")
READOUT_INPUTS = ("sigmoid", "spike", "trace")
LOSSES = ("mse", "smooth_l1", "custom")  # custom: loss_expr, its rule derived by derive.py
OPTIMISERS = ("sgd", "sgd_momentum", "adamax", "adam")
DYNAMICS = ("discrete", "continuous")
FORWARDS = ("dense", "spike_driven")
LEARNINGS = ("dense", "error_triggered")
UPDATE_EVERY = ("step", "sample")
#: sections the builder reads from a neuron equations file, by dynamics (as in equations/neuron_*.eqs);
#: a max-pool also reads "spike_trace"
NEURON_SECTIONS = {
    "discrete": ("model", "decay", "sample_start", "threshold", "reset",
                 "input_model", "input_decay", "input_sample_start", "input_threshold", "input_reset"),
    "continuous": ("model", "sample_start", "threshold", "reset",
                   "input_model", "input_sample_start", "input_threshold", "input_reset"),
}


@dataclass(frozen=True)
class ConvLayer:
    """A convolutional DECOLLE layer: channels x kernel x kernel kernels moved by
    ``stride``, zero padding, then an optional pool x pool max-pool on the membrane potential."""

    channels: int
    kernel: int = 7
    padding: int = 0
    pool: int = 1
    stride: int = 1

    def __post_init__(self):
        for name in ("channels", "kernel", "pool", "stride"):
            check_count(f"conv {name}", getattr(self, name))
        check_index("conv padding", self.padding)

    def unit_shape(self, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(channels, height, width) of the convolution's neurons, before the pool (torch's formula)."""
        _, h, w = in_shape
        side = lambda n: (n + 2 * self.padding - self.kernel) // self.stride + 1  # noqa: E731
        return self.channels, side(h), side(w)

    def output_shape(self, in_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(channels, height, width) after the pool (torch's floor)."""
        c, h, w = self.unit_shape(in_shape)
        return c, h // self.pool, w // self.pool


KINDS = ("conv", "dense", "output")


@dataclass(frozen=True)
class LayerSpec:
    """Everything about one layer, computed once from the NetworkConfig; every other
    module reads these records instead of recomputing shapes or indices.

    Shapes are (channels, height, width) per replica; a dense layer is (n, 1, 1).
    A dense layer is a 1x1 "convolution" of its flattened input (kernel 1, stride 1).
    """

    index: int                          # 1-based, as the Brian2 names layerN_...
    kind: str                           # 'conv', 'dense', or 'output' (non-spiking, y = u)
    input_shape: tuple[int, int, int]   # what the layer reads
    unit_shape: tuple[int, int, int]    # its integrating neurons (before the max-pool)
    output_shape: tuple[int, int, int]  # what the readout and the next layer see (after the pool)
    fan_in: int                         # inputs per neuron
    kernel: int
    stride: int
    padding: int
    pool: int
    bias: bool                          # learned bias on or off
    shared: bool                        # weights live in a kernel group (conv, or batch > 1)
    readout_size: int
    dropout: float                      # dropout of the readout input (0 for the output layer)
    weight_scale: float                 # w ~ U(+-weight_scale/sqrt(fan_in))
    lr_scale: float                     # the layer's learning rate is lr times this
    alpha: float                        # discrete decays of p, q, r per step
    alpha_s: float
    alpha_r: float
    tau_mem_ms: float                   # continuous time constants
    tau_syn_ms: float
    tau_ref_ms: float

    @property
    def n_inputs(self) -> int:
        return math.prod(self.input_shape)

    @property
    def n_units(self) -> int:
        return math.prod(self.unit_shape)

    @property
    def n_outputs(self) -> int:
        return math.prod(self.output_shape)

    @property
    def channels(self) -> int:
        return self.unit_shape[0]

    @property
    def is_output(self) -> bool:
        """The non-spiking output layer (decolle-public's with_output_layer): its readout is
        the identity, y_k = u_k, so dL/du_k = dL/dy_k; no surrogate, no dropout."""
        return self.kind == "output"

    @property
    def is_conv(self) -> bool:
        return self.kind == "conv"

    @property
    def n_kernel(self) -> int:
        """Shared weights: in channels x out channels x kernel x kernel (dense: n_in x n_out)."""
        return self.n_inputs * self.channels if not self.is_conv else \
            self.input_shape[0] * self.channels * self.kernel ** 2


@dataclass(frozen=True)
class NetworkConfig:
    """A stack of DECOLLE layers, convolutional ones (conv_layers) then dense ones (layer_sizes), each
    with its own local readout.

    Defaults follow decolle-public (discrete dynamics, fast-sigmoid surrogate,
    the readout reading the spike, smooth-L1 loss, Adamax with betas (0, 0.95)).
    """

    n_inputs: int
    layer_sizes: tuple[int, ...]            # dense layers (after any convolutional ones)
    readout_sizes: int | tuple[int, ...]    # units of each layer's local readout: one, or one per layer
    input_shape: tuple[int, int, int] | None = None  # (channels, height, width); needed by conv_layers
    conv_layers: tuple[ConvLayer, ...] = ()  # convolutional layers, before the dense ones
    batch: int = 1                          # replicas sharing every weight (a minibatch)
    output_layer: bool = False              # the last dense layer is a non-spiking output: its readout is its u
    dynamics: str = "discrete"
    neuron_equations: str | None = None     # path of your own neuron file, used instead of
                                            # equations/neuron_{dynamics}.eqs, with the same sections
                                            # (NEURON_SECTIONS); dynamics still decides which parameters
                                            # are set and whether its decay blocks run
    forward: str = "dense"                  # synaptic input: 'dense' (every synapse, every step) or
                                            # 'spike_driven' (on presynaptic spikes; equations/spike_driven.eqs)
    dt_ms: float = 1.0
    # discrete dynamics (decolle-public's LIFLayer)
    alpha: float = 0.97                     # p decay per step
    alpha_s: float = 0.92                   # q decay per step
    alpha_r: float = 0.65                   # refractory decay per step
    # continuous dynamics (paper Eq. 1); defaults equal the discrete decays at dt = 1 ms
    tau_mem_ms: float = 32.8
    tau_syn_ms: float = 12.0
    tau_ref_ms: float = 2.32
    w_rp: float = 1.0                       # refractory strength
    refractory_trace: bool = False          # keep r's dependence on w_ij through the neuron's own earlier
                                            # spikes with a per-synapse trace d r_i/d w_ij (derived from the
                                            # neuron's decay block; O(synapses) memory). DECOLLE drops it (Sec. 3)
    random_tau: bool = False                # draw tau_mem, tau_syn per neuron uniformly in tau_range_ms
    tau_range_ms: tuple[float, float] = (10.0, 35.0)
    surrogate: str = "fast_sigmoid"
    readout_input: str = "spike"
    loss: str = "smooth_l1"
    loss_expr: str | None = None            # loss='custom': the cost of one readout unit at one step, in
                                            # y, yhat and n_out (sum(...) sums over the readout's units);
                                            # the rule is derived from it (brian_decolle/derive.py)
    optimiser: str = "adamax"
    learning: str = "dense"                 # 'dense' (Eq. 5, every synapse every step) or 'error_triggered'
                                            # (Eq. 6: on error events; equations/error_events.eqs)
    error_threshold: float = 0.01           # theta of the error events (error_triggered)
    update_every: str = "step"              # 'step': the optimiser steps every time step (DECOLLE, decolle-public);
                                            # 'sample': the gradient is summed over a sample and applied once
    lr: float = 1e-3
    lr_scale: float | tuple[float, ...] = 1.0  # each layer learns at lr times this (0: it does not learn); one or
                                            # per layer
    adamax_decay: float = 0.95
    adamax_eps: float = 1e-8
    momentum: float = 0.9                   # optimiser='sgd_momentum' (torch.optim.SGD): the velocity's decay per step
    adam_beta1: float = 0.9                 # optimiser='adam' (torch.optim.Adam): decay of the gradient's running
    adam_beta2: float = 0.999               # mean and of its square's, per optimiser step; eps added to the root
    adam_eps: float = 1e-8
    dropout: float = 0.5                    # dropout probability of each readout's input
    readout_amplitude: float = 0.5          # g, c ~ U(-a/sqrt(fan_in), a/sqrt(fan_in))
    weight_scale: float | tuple[float, ...] = 1.0  # w ~ U(-scale/sqrt(fan_in), scale/sqrt(fan_in)); one or per layer
    reg_u: float = 0.0                      # membrane regulariser weight
    reg_rate: float = 0.0                   # activity regulariser weight
    u_offset: float = 0.01
    rate_target: float = 0.1
    homeostasis_tau_s: float = 0.0          # homeostasis of excitability (equations/homeostasis.eqs): the time for
                                            # a silent neuron's h to rise by 1 (s); 0: off
    homeostasis_hz: float = 20.0            # its target firing rate
    homeostasis_window_s: float = 1.0       # the time constant of its running rate estimate (s)
    burnin_ms: float = 0.0
    bias: bool | tuple[bool, ...] = True    # learned biases on or off; one or per layer
    seed: int = 0                           # initial values (weights, readouts, time constants)
    layers: tuple[LayerSpec, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        check_count("n_inputs", self.n_inputs)
        check_count("batch", self.batch)
        self._check_convolutions()
        if not isinstance(self.layer_sizes, (tuple, list)) or len(self.layer_sizes) + len(self.conv_layers) == 0:
            raise ConfigError(f"layer_sizes={self.layer_sizes!r} must be a sequence of positive integers, "
                              "non-empty unless conv_layers are given")
        object.__setattr__(self, "layer_sizes", tuple(self.layer_sizes))
        for k, n in enumerate(self.layer_sizes):
            check_count(f"layer_sizes[{k}]", n)
        for name in ("readout_sizes", "bias", "weight_scale", "lr_scale"):  # kept as given: one, or one per layer
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        readouts = per_layer("readout_sizes", self.readout_sizes, self.n_layers, check_count, int)
        check_bool("output_layer", self.output_layer)
        biases = per_layer("bias", self.bias, self.n_layers, check_bool, bool)
        if self.output_layer and (not self.layer_sizes or self.layer_sizes[-1] != readouts[-1]):
            raise ConfigError(f"output_layer=True needs a last dense layer as large as its readout: layer_sizes="
                              f"{self.layer_sizes!r}, readout_sizes[-1]={readouts[-1]}")
        check_choice("dynamics", self.dynamics, DYNAMICS)
        if self.neuron_equations is not None:  # stored absolute: the loader reads names relative to equations/
            object.__setattr__(self, "neuron_equations", check_neuron_equations(
                self.neuron_equations, self.dynamics, max_pool=any(c.pool > 1 for c in self.conv_layers)))
        check_choice("surrogate", self.surrogate, SURROGATES)
        check_choice("readout_input", self.readout_input, READOUT_INPUTS)
        check_choice("optimiser", self.optimiser, OPTIMISERS)
        check_positive("dt_ms", self.dt_ms)
        for name in ("alpha", "alpha_s", "alpha_r"):
            check_decay(name, getattr(self, name))
        scales = per_layer("weight_scale", self.weight_scale, self.n_layers, check_positive)
        lr_scales = per_layer("lr_scale", self.lr_scale, self.n_layers, check_non_negative)
        for name in ("tau_mem_ms", "tau_syn_ms", "tau_ref_ms", "readout_amplitude", "adamax_eps", "adam_eps"):
            check_positive(name, getattr(self, name))
        if self.dynamics == "continuous" and not self.random_tau and self.tau_mem_ms == self.tau_syn_ms:
            raise ConfigError("tau_mem_ms must differ from tau_syn_ms: epsilon(t) of Eq. 1 divides by "
                              "1 - tau_syn/tau_mem")
        lo_hi = self.tau_range_ms
        if (not isinstance(lo_hi, (tuple, list)) or len(lo_hi) != 2
                or not all(isinstance(x, (int, float)) for x in lo_hi) or not 0 < lo_hi[0] < lo_hi[1]):
            raise ConfigError(f"tau_range_ms={lo_hi!r} must be (low, high) with 0 < low < high")
        object.__setattr__(self, "tau_range_ms", tuple(lo_hi))
        for name in ("w_rp", "lr", "reg_u", "reg_rate", "u_offset", "rate_target", "burnin_ms", "homeostasis_tau_s"):
            check_non_negative(name, getattr(self, name))
        check_homeostasis(self)
        check_optimiser(self)
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout={self.dropout!r} must lie in [0, 1)")
        check_index("seed", self.seed)
        check_forward(self)
        check_learning(self)
        check_loss(self)
        object.__setattr__(self, "layers", self._layer_specs(biases, readouts, scales, lr_scales))
        check_memory(self)

    def _check_convolutions(self) -> None:
        layers = self.conv_layers
        if not isinstance(layers, (tuple, list)):
            raise ConfigError(f"conv_layers={layers!r} must be a sequence of ConvLayer (or dicts of their fields)")
        try:
            layers = tuple(c if isinstance(c, ConvLayer) else ConvLayer(**c) for c in layers)
        except TypeError as exc:
            raise ConfigError(f"conv_layers={self.conv_layers!r}: each needs channels, kernel, padding, pool, "
                              f"stride ({exc})") from None
        object.__setattr__(self, "conv_layers", layers)
        shape = self.input_shape
        if shape is None:
            if layers:
                raise ConfigError("conv_layers need input_shape=(channels, height, width)")
            return
        if (not isinstance(shape, (tuple, list)) or len(shape) != 3
                or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in shape)):
            raise ConfigError(f"input_shape={shape!r} must be (channels, height, width), three positive integers")
        shape = tuple(shape)
        object.__setattr__(self, "input_shape", shape)
        if math.prod(shape) != self.n_inputs:
            raise ConfigError(f"input_shape={shape} holds {math.prod(shape)} inputs but n_inputs={self.n_inputs}")
        for k, conv in enumerate(layers):
            _, h, w = shape
            size = min(h, w) + 2 * conv.padding
            if conv.kernel > size:
                raise ConfigError(f"conv_layers[{k}] kernel={conv.kernel} is larger than its padded input "
                                  f"{shape[1]}x{shape[2]} (+2x padding {conv.padding}); allowed: kernel <= {size}")
            side = min(conv.unit_shape(shape)[1:])
            if conv.pool > side:
                raise ConfigError(f"conv_layers[{k}] pool={conv.pool} is larger than its "
                                  f"{side}-wide output; allowed: pool <= {side}")
            shape = conv.output_shape(shape)

    def _layer_specs(self, biases, readouts, scales, lr_scales) -> tuple[LayerSpec, ...]:
        """One record per layer, conv layers first (see LayerSpec), from the checked per-layer
        biases, readout sizes, weight scales and learning-rate scales."""
        specs = []
        shape = self.input_shape or (self.n_inputs, 1, 1)
        n_conv = len(self.conv_layers)
        plans = [(c.channels, c.kernel, c.padding, c.pool, c.stride) for c in self.conv_layers] \
            + [(n, 1, 0, 1, 1) for n in self.layer_sizes]
        for k, (channels, kernel, padding, pool, stride) in enumerate(plans):
            index = k + 1
            conv = k < n_conv
            in_shape = shape if conv else (math.prod(shape), 1, 1)
            layer = ConvLayer(channels, kernel, padding, pool, stride)
            unit, out = layer.unit_shape(in_shape), layer.output_shape(in_shape)
            kind = "conv" if conv else ("output" if self.output_layer and index == self.n_layers else "dense")
            specs.append(LayerSpec(
                index=index, kind=kind, input_shape=in_shape, unit_shape=unit, output_shape=out,
                fan_in=in_shape[0] * kernel ** 2, kernel=kernel, stride=stride, padding=padding, pool=pool,
                bias=biases[k], shared=conv or self.batch > 1, readout_size=readouts[k],
                dropout=0.0 if kind == "output" else self.dropout, weight_scale=scales[k], lr_scale=lr_scales[k],
                alpha=self.alpha, alpha_s=self.alpha_s, alpha_r=self.alpha_r, tau_mem_ms=self.tau_mem_ms,
                tau_syn_ms=self.tau_syn_ms, tau_ref_ms=self.tau_ref_ms))
            shape = out
        return tuple(specs)

    @property
    def n_layers(self) -> int:
        return len(self.conv_layers) + len(self.layer_sizes)

    @property
    def dt_s(self) -> float:
        return self.dt_ms * 1e-3

    def steps(self, duration_ms: float) -> int:
        """Time steps of dt_ms in duration_ms (rounded)."""
        return int(round(duration_ms / self.dt_ms))

    def to_dict(self) -> dict:
        """The fields as plain values (JSON), for checkpoints and records."""
        values = dataclasses.asdict(self)
        values.pop("layers")  # derived, rebuilt by from_dict
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "NetworkConfig":
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        values = {k: tuple(v) if isinstance(v, list) and k != "conv_layers" else v for k, v in values.items()}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)


def check_neuron_equations(path, dynamics: str = "discrete", max_pool: bool = False) -> str:
    """A user's neuron equations file (parameter neuron_equations): it must exist and hold every
    section the builder reads for these dynamics. Returns its absolute path."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ConfigError(f"neuron_equations={path!r} must be the path of a .eqs file")
    check_choice("dynamics", dynamics, DYNAMICS)
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigError(f"neuron_equations={str(path)!r}: no such file ({file})")
    required = NEURON_SECTIONS[dynamics] + (("spike_trace",) if max_pool else ())
    # the same '### name' headers that equations.sections splits on
    found = set(re.findall(r"^###\s+(\w+)", file.read_text(), flags=re.MULTILINE))
    missing = [name for name in required if name not in found]
    if missing:
        raise ConfigError(f"neuron_equations={str(path)!r} lacks section(s) {', '.join(missing)}; a neuron file "
                          f"for dynamics={dynamics!r}{' with a max-pool' if max_pool else ''} needs "
                          f"{', '.join('### ' + n for n in required)} (see equations/neuron_{dynamics}.eqs)")
    return str(file)


def check_homeostasis(cfg: NetworkConfig) -> None:
    """The homeostasis of excitability (homeostasis_tau_s > 0): a positive target rate and rate window, and
    a neuron whose u adds the excitability h (as equations/neuron_*.eqs do; a user's own file must too)."""
    for name in ("homeostasis_hz", "homeostasis_window_s"):
        check_positive(name, getattr(cfg, name))
    if cfg.homeostasis_tau_s > 0 and cfg.neuron_equations is not None:
        from brian2 import Equations
        model = Equations(eq.sections(cfg.neuron_equations)["model"])
        if "u" not in model or "h" not in model["u"].identifiers:
            raise ConfigError(f"homeostasis_tau_s={cfg.homeostasis_tau_s!r} needs a neuron whose u adds the "
                              f"excitability h, and neuron_equations={cfg.neuron_equations!r} does not: write "
                              "u = ... + h and declare h : 1 (as equations/neuron_discrete.eqs), or set "
                              "homeostasis_tau_s=0")


#: the least a synapse costs in Brian2: its pre- and postsynaptic indices (int32) and one float
BYTES_PER_SYNAPSE = 16


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg: NetworkConfig, available: int | None = None) -> None:
    """Refuse, before anything is allocated, a network whose synapses alone exceed this machine's
    memory (a lower bound: weights, traces and monitors come on top)."""
    available = physical_memory() if available is None else available
    synapses = cfg.batch * sum(spec.n_units * spec.fan_in + spec.n_outputs * spec.readout_size for spec in cfg.layers)
    needed = synapses * BYTES_PER_SYNAPSE
    if available is not None and needed > available:
        raise ConfigError(f"the network has {synapses:.3g} synapses (batch {cfg.batch}), which need at least "
                          f"{needed / 2**30:.1f} GiB, more than this machine's {available / 2**30:.1f} GiB: "
                          "choose smaller layer_sizes, fewer channels or a smaller batch")


def check_burnin(cfg: NetworkConfig, longest_sample: int) -> None:
    """A sample learns and votes only after its burn-in: refuse an input whose longest sample (in time
    steps) is no longer than the burn-in, on which nothing would ever be learned."""
    burnin = cfg.steps(cfg.burnin_ms)
    if longest_sample <= burnin:
        raise ConfigError(f"burnin_ms={cfg.burnin_ms!r} ({burnin} steps) is no shorter than the longest sample of "
                          f"the input ({longest_sample} steps): nothing would be learned; allowed: burnin_ms < "
                          f"{longest_sample * cfg.dt_ms:g} (or longer samples)")


def check_forward(cfg: NetworkConfig) -> None:
    """forward='spike_driven' moves the inputs' filter to the neuron, which is exact only when
    every input has the neuron's decays (equations/spike_driven.eqs)."""
    check_choice("forward", cfg.forward, FORWARDS)
    if cfg.forward == "spike_driven":
        if cfg.dynamics != "discrete":
            raise ConfigError(f"forward='spike_driven' needs dynamics='discrete' (got {cfg.dynamics!r}): the "
                              "continuous neuron's input filter is not written in that form yet")
        if cfg.random_tau:
            raise ConfigError("forward='spike_driven' needs random_tau=False: with a time constant drawn per "
                              "presynaptic neuron, the inputs of one neuron decay differently and their sum no "
                              "longer follows one filter; use forward='dense'")


def check_learning(cfg: NetworkConfig) -> None:
    """learning='error_triggered' (Eq. 6) updates on error events with plain SGD steps."""
    check_choice("learning", cfg.learning, LEARNINGS)
    check_positive("error_threshold", cfg.error_threshold)
    check_choice("update_every", cfg.update_every, UPDATE_EVERY)
    if cfg.learning == "error_triggered":
        # (layers are numbered conv first; at batch 1 a dense layer's weights are its own)
        own = list(range(len(cfg.conv_layers) + 1, len(cfg.conv_layers) + len(cfg.layer_sizes) + 1)) \
            if cfg.batch == 1 else []
        if cfg.optimiser != "sgd" and own:
            raise ConfigError(f"learning='error_triggered' with optimiser={cfg.optimiser!r} needs shared kernels "
                              f"(conv layers, or batch > 1), but layer(s) {own} have weights of their own: "
                              f"{cfg.optimiser} steps every weight every step by its running statistics, which events "
                              "do not deliver; "
                              "use optimiser='sgd' (equations/error_events.eqs)")
        if cfg.update_every != "step":
            raise ConfigError(f"learning='error_triggered' needs update_every='step' (got {cfg.update_every!r}): "
                              "an error event steps the weights when it happens")


def check_optimiser(cfg: NetworkConfig) -> None:
    """The optimiser's decays; the optimisers with momentum step at every time step only (update_every='step')."""
    for name in ("momentum", "adam_beta1"):
        value = getattr(cfg, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
            raise ConfigError(f"{name}={value!r} must lie in [0, 1)")
    check_decay("adamax_decay", cfg.adamax_decay)
    check_decay("adam_beta2", cfg.adam_beta2)
    if cfg.optimiser in ("sgd_momentum", "adam") and cfg.update_every != "step":
        raise ConfigError(f"optimiser={cfg.optimiser!r} needs update_every='step' (got {cfg.update_every!r}): "
                          "one step per sample is written for 'sgd' and 'adamax'")


def check_loss(cfg: NetworkConfig) -> None:
    """loss='custom' needs loss_expr, from which the rule is derived now, so that a cost that cannot be
    differentiated, names an unknown variable or is not local is refused before anything is built;
    refractory_trace's trace is derived now too."""
    check_choice("loss", cfg.loss, LOSSES)
    check_bool("refractory_trace", cfg.refractory_trace)
    if cfg.refractory_trace:
        if cfg.dynamics != "discrete" or cfg.conv_layers or cfg.batch != 1 or cfg.learning != "dense" \
                or cfg.output_layer:
            raise ConfigError("refractory_trace=True keeps a trace per synapse of dense layers of their own: it needs "
                              f"dynamics='discrete', no conv_layers, batch=1, learning='dense' and no output_layer "
                              f"(got dynamics={cfg.dynamics!r}, {len(cfg.conv_layers)} conv layer(s), "
                              f"batch={cfg.batch}, learning={cfg.learning!r}, output_layer={cfg.output_layer})")
        derive.synaptic_for(cfg)
    if cfg.loss != "custom":
        if cfg.loss_expr is not None:
            raise ConfigError(f"loss_expr={cfg.loss_expr!r} is read only with loss='custom' (got loss={cfg.loss!r})")
        return
    if not isinstance(cfg.loss_expr, str) or not cfg.loss_expr.strip():
        raise ConfigError("loss='custom' needs loss_expr, the cost of one readout unit at one step in y, yhat and "
                          "n_out, e.g. loss_expr='(y - yhat)**2/n_out'")
    rule = derive.rule_for(cfg)
    if (cfg.conv_layers or cfg.learning == "error_triggered") and (rule.pre != "p_pre" or rule.bias != "1"):
        raise ConfigError(f"the neuron's u gives du/dw = {rule.pre} and du/db = {rule.bias}; convolutions and "
                          "error-triggered learning are written for du/dw = p_pre and du/db = 1")
