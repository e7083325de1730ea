"""Is the network healthy? Firing, silence and membrane statistics per layer.

A run of the online classifier gathers, per layer, each output unit's spike count
and each neuron's sums of u and u^2 after the burn-in (statistics.eqs).
:class:`Activity` adds these up over the runs of one evaluation (or of the
initialisation) and :func:`layer_health` turns them into the figures a user
checks: mean firing rate, the fraction of silent units (no spike in any sample;
the non-spiking output layer has none by definition), apart the units no input
reached (no synaptic input in any sample), membrane mean and standard
deviation, and weight and bias ranges.
"""
from __future__ import annotations

import numpy as np

from .config import NetworkConfig

SILENT_WARNING = 0.5      # warn when more than this fraction of a layer's units never spiked
RATE_WARNING_HZ = 200.0   # warn when a layer's mean rate exceeds this
PERCENTILES = (0, 5, 25, 50, 75, 95, 100)
FAST_HZ = 300.0           # a unit above this rate fires at most every third step: no longer a sparse code


class Activity:
    """Spike counts and membrane sums of every layer, added up over runs. Its methods take a layer's
    number, 1-based as everywhere else (``LayerSpec.index``, ``layerN_...``, summary.json)."""

    def __init__(self, cfg: NetworkConfig):
        self.cfg = cfg
        self.counts = [np.zeros(spec.n_outputs) for spec in cfg.layers]   # per unit of one replica
        self.reached = [np.zeros(spec.n_outputs, dtype=bool) for spec in cfg.layers]  # input reached the unit
        self.u_sum = np.zeros(cfg.n_layers)
        self.u_sq = np.zeros(cfg.n_layers)
        self.n_values = np.zeros(cfg.n_layers)   # neuron-steps counted
        self.unit_steps = 0.0                    # steps a unit of one replica was simulated, over all samples

    def add(self, recording: list[dict], n_samples: int, steps: int) -> None:
        """One run's per-layer recording (counts, reached, u_sum, u_sq, n_counted) holding n_samples
        samples (replicas that ran a sample) of ``steps`` steps each."""
        B = self.cfg.batch
        for k, (spec, rec) in enumerate(zip(self.cfg.layers, recording)):
            counts = rec["counts"].reshape(B, spec.n_outputs)[:n_samples]
            self.counts[k] += counts.sum(axis=0)
            self.reached[k] |= rec["reached"].reshape(B, spec.n_outputs)[:n_samples].any(axis=0)
            u_sum = rec["u_sum"].reshape(B, -1)[:n_samples]
            u_sq = rec["u_sq"].reshape(B, -1)[:n_samples]
            self.u_sum[k] += u_sum.sum()
            self.u_sq[k] += u_sq.sum()
            self.n_values[k] += rec["n_counted"] * u_sum.size
        self.unit_steps += n_samples * steps

    def _position(self, layer: int) -> int:
        """Where layer number ``layer`` (1-based) sits in the per-layer lists."""
        if not 1 <= layer <= self.cfg.n_layers:
            raise IndexError(f"layer {layer!r}: the network has layers 1 to {self.cfg.n_layers}")
        return layer - 1

    def rate_hz(self, layer: int) -> float:
        """Mean firing rate of the layer's output units."""
        k = self._position(layer)
        spec = self.cfg.layers[k]
        return float(self.counts[k].sum() / max(spec.n_outputs * self.unit_steps * self.cfg.dt_s, 1e-12))

    def unit_rates_hz(self, layer: int) -> np.ndarray:
        """Each output unit's firing rate in the layer, over all samples counted."""
        return self.counts[self._position(layer)] / max(self.unit_steps * self.cfg.dt_s, 1e-12)

    def channel_rates_hz(self, layer: int) -> np.ndarray:
        """The mean firing rate of each channel of the layer (a dense layer: of each neuron)."""
        spec = self.cfg.layers[self._position(layer)]
        return self.unit_rates_hz(layer).reshape(spec.output_shape[0], -1).mean(axis=1)

    def rates(self, layer: int) -> dict:
        """The rate distribution of the layer: mean, median and 95th percentile (Hz), the
        fractions of units above FAST_HZ and of silent units (no spike in any sample), the fraction of
        units no input reached (such as those that only see MNIST's empty border), and of the units
        input reached, the fraction that stayed silent."""
        rates = self.unit_rates_hz(layer)
        reached = self.reached[self._position(layer)]
        return {"rate_hz": self.rate_hz(layer), "rate_median_hz": float(np.median(rates)),
                "rate_p95_hz": float(np.percentile(rates, 95)),
                "fast_fraction": float(np.mean(rates > FAST_HZ)), "silent_fraction": float(np.mean(rates == 0)),
                "unreached_fraction": float(np.mean(~reached)),
                "silent_reached_fraction": float(np.mean(rates[reached] == 0)) if reached.any() else None}

    def membrane(self, layer: int) -> tuple[float, float]:
        """Mean and standard deviation of u of the layer over neurons and counted steps."""
        k = self._position(layer)
        n = max(self.n_values[k], 1.0)
        mean = self.u_sum[k] / n
        return float(mean), float(np.sqrt(max(self.u_sq[k] / n - mean ** 2, 0.0)))


def layer_health(activity: Activity, state: dict[str, np.ndarray]) -> list[dict]:
    """Per layer: the rates (mean, median, 95th percentile; unreached_fraction; fast_fraction,
    silent_fraction and silent_reached_fraction are None for the non-spiking output layer), u_mean, u_std,
    weight_range, bias_range and the PERCENTILES of weights and biases (None without biases)."""
    cfg, out = activity.cfg, []
    for spec in cfg.layers:
        u_mean, u_std = activity.membrane(spec.index)
        rates = activity.rates(spec.index)
        if spec.is_output:
            rates.update(fast_fraction=None, silent_fraction=None, silent_reached_fraction=None)
        w = state[f"layer{spec.index}_w"]
        b = state.get(f"layer{spec.index}_b")
        out.append({
            "layer": spec.index, **rates,
            "u_mean": u_mean, "u_std": u_std,
            "weight_range": [float(w.min()), float(w.max())],
            "bias_range": None if b is None else [float(b.min()), float(b.max())],
            # distributions over training: 0, 5, 25, 50, 75, 95, 100th percentiles
            "weight_percentiles": np.percentile(w, PERCENTILES).tolist(),
            "bias_percentiles": None if b is None else np.percentile(b, PERCENTILES).tolist()})
    return out


def warnings(health: list[dict]) -> list[str]:
    """The lines a user must see: mostly silent layers and layers firing too fast."""
    lines = []
    for layer in health:
        silent = layer["silent_fraction"]
        if silent is not None and silent > SILENT_WARNING:
            lines.append(f"WARNING: layer {layer['layer']}: {silent:.0%} of its units never spiked "
                         f"(mean u {layer['u_mean']:.2f}, std {layer['u_std']:.2f})")
        # (the non-spiking output layer, silent_fraction None, has no firing rate to warn about)
        if silent is not None and layer["rate_hz"] > RATE_WARNING_HZ:
            lines.append(f"WARNING: layer {layer['layer']} fires at {layer['rate_hz']:.0f} Hz on average "
                         f"(more than {RATE_WARNING_HZ:.0f} Hz)")
    return lines
