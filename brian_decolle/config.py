"""Typed configuration of a DECOLLE network, validated once when it is made.

Every error names the parameter, its value and what is allowed, so that a bad
value never reaches Brian2.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

SURROGATES = ("sigmoid", "fast_sigmoid", "box")
READOUT_INPUTS = ("sigmoid", "spike", "trace")
LOSSES = ("mse", "smooth_l1")
OPTIMISERS = ("sgd", "adamax")
DYNAMICS = ("discrete", "continuous")


class ConfigError(ValueError):
    """A parameter has a value the model cannot use."""


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")


def _positive(name: str, value) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}={value!r} must be a positive number")


def _non_negative(name: str, value) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}={value!r} must be a number >= 0")


def _decay(name: str, value) -> None:
    if not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{name}={value!r} must lie in (0, 1): it is exp(-dt/tau) for a positive tau")


def _count(name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} must be a positive integer")


@dataclass(frozen=True)
class NetworkConfig:
    """A stack of dense DECOLLE layers, each with its own local readout.

    Defaults follow decolle-public (discrete dynamics, fast-sigmoid surrogate,
    the readout reading the spike, smooth-L1 loss, Adamax with betas (0, 0.95)).
    """

    n_inputs: int
    layer_sizes: tuple[int, ...]
    readout_sizes: tuple[int, ...]          # units of each layer's local readout
    dynamics: str = "discrete"
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
    random_tau: bool = False                # draw tau_mem, tau_syn per neuron uniformly in tau_range_ms
    tau_range_ms: tuple[float, float] = (10.0, 35.0)
    surrogate: str = "fast_sigmoid"
    readout_input: str = "spike"
    loss: str = "smooth_l1"
    optimiser: str = "adamax"
    lr: float = 1e-3
    adamax_decay: float = 0.95
    adamax_eps: float = 1e-8
    dropout: float = 0.5                    # dropout probability of each readout's input
    readout_amplitude: float = 0.5          # g, c ~ U(-a/sqrt(fan_in), a/sqrt(fan_in))
    weight_scale: float | tuple[float, ...] = 1.0  # w ~ U(-scale/sqrt(fan_in), scale/sqrt(fan_in)); one or per layer
    reg_u: float = 0.0                      # membrane regulariser weight
    reg_rate: float = 0.0                   # activity regulariser weight
    u_offset: float = 0.01
    rate_target: float = 0.1
    burnin_ms: float = 0.0
    seed: int = 0

    def __post_init__(self):
        _count("n_inputs", self.n_inputs)
        if not isinstance(self.layer_sizes, (tuple, list)) or len(self.layer_sizes) == 0:
            raise ConfigError(f"layer_sizes={self.layer_sizes!r} must be a non-empty sequence of positive integers")
        object.__setattr__(self, "layer_sizes", tuple(self.layer_sizes))
        for k, n in enumerate(self.layer_sizes):
            _count(f"layer_sizes[{k}]", n)
        sizes = self.readout_sizes
        if isinstance(sizes, int) and not isinstance(sizes, bool):
            sizes = (sizes,) * len(self.layer_sizes)
        if not isinstance(sizes, (tuple, list)) or len(sizes) != len(self.layer_sizes):
            raise ConfigError(
                f"readout_sizes={self.readout_sizes!r} must be one positive integer or one per layer "
                f"({len(self.layer_sizes)} layers)")
        object.__setattr__(self, "readout_sizes", tuple(sizes))
        for k, n in enumerate(self.readout_sizes):
            _count(f"readout_sizes[{k}]", n)
        _choice("dynamics", self.dynamics, DYNAMICS)
        _choice("surrogate", self.surrogate, SURROGATES)
        _choice("readout_input", self.readout_input, READOUT_INPUTS)
        _choice("loss", self.loss, LOSSES)
        _choice("optimiser", self.optimiser, OPTIMISERS)
        _positive("dt_ms", self.dt_ms)
        for name in ("alpha", "alpha_s", "alpha_r"):
            _decay(name, getattr(self, name))
        scales = self.weight_scale
        if isinstance(scales, (int, float)) and not isinstance(scales, bool):
            scales = (scales,) * len(self.layer_sizes)
        if not isinstance(scales, (tuple, list)) or len(scales) != len(self.layer_sizes):
            raise ConfigError(f"weight_scale={self.weight_scale!r} must be one positive number or one per layer")
        for k, scale in enumerate(scales):
            _positive(f"weight_scale[{k}]", scale)
        object.__setattr__(self, "weight_scale", tuple(scales))
        for name in ("tau_mem_ms", "tau_syn_ms", "tau_ref_ms", "readout_amplitude", "adamax_eps"):
            _positive(name, getattr(self, name))
        if self.dynamics == "continuous" and not self.random_tau and self.tau_mem_ms == self.tau_syn_ms:
            raise ConfigError("tau_mem_ms must differ from tau_syn_ms: epsilon(t) of Eq. 1 divides by "
                              "1 - tau_syn/tau_mem")
        lo_hi = self.tau_range_ms
        if (not isinstance(lo_hi, (tuple, list)) or len(lo_hi) != 2
                or not all(isinstance(x, (int, float)) for x in lo_hi) or not 0 < lo_hi[0] < lo_hi[1]):
            raise ConfigError(f"tau_range_ms={lo_hi!r} must be (low, high) with 0 < low < high")
        object.__setattr__(self, "tau_range_ms", tuple(lo_hi))
        for name in ("w_rp", "lr", "reg_u", "reg_rate", "u_offset", "rate_target", "burnin_ms"):
            _non_negative(name, getattr(self, name))
        _decay("adamax_decay", self.adamax_decay)
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout={self.dropout!r} must lie in [0, 1)")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r} must be an integer >= 0")

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes)

    def fan_ins(self) -> tuple[int, ...]:
        return (self.n_inputs,) + self.layer_sizes[:-1]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "NetworkConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**values)
