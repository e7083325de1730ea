"""Data-driven initialisation (LSUV), as decolle-public's init_LSUV, in Brian2.

Orthogonal weights first; then, layer after layer, runs of the compiled network
on a few training samples (learning and dropout off) measure the membrane
potential u of the layer's neurons after each sample's burn-in (statistics.eqs),
and the layer's weights are scaled and its biases shifted so that u has the
target mean m and standard deviation s (decolle-public: 0 and 1):
W <- W s / std, b <- (b - mean) s / std + m. A layer is done when both are
within the tolerance, or after ``init_iterations`` measurements. The threshold is
u = 0, so with m = 0 a unit whose input barely varies in time fires at nearly every
step or never; with a target rate instead, each channel's bias is then bisected
until the channel fires at that rate. The non-spiking output layer keeps its
initial weights. Every measurement is a re-run of the same build, so nothing is
compiled again.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .health import FAST_HZ, Activity


def orthogonal(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Weights of shape (out, ...) whose rows (out, fan_in) are orthonormal where out <= fan_in
    (columns where out > fan_in), as torch.nn.init.orthogonal_."""
    rows, cols = shape[0], int(np.prod(shape[1:]))
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    return (q if rows > cols else q.T).reshape(shape)


def lsuv(dn, state: dict, measure: Callable[[dict], Activity], *, tolerance: float, iterations: int, seed: int,
         report: Callable[[str], None], u_mean: float = 0.0, u_std: float = 1.0,
         rate_hz: float | None = None) -> tuple[dict, dict]:
    """The initialised state and a log {layer number (from 1): {before, after, measurements}} of u's mean
    and std and the firing rate. measure(state) runs the network on the same training samples and returns
    their Activity. rate_hz: after the scaling, each channel's bias (a dense layer: each neuron's) is
    shifted until the channel's mean firing rate is within ``tolerance`` (relative) of rate_hz, instead
    of reaching u_mean (u includes the refractory state, which pulls a fast unit's u back to the
    threshold, so u's mean says little of the rate; and one shift for the whole layer leaves its
    weakly driven channels silent)."""
    cfg = dn.cfg
    rng = np.random.default_rng([seed, 7])
    state = {name: values.copy() for name, values in state.items()}
    before = measure(state)
    for spec in cfg.layers:
        if not spec.is_output:
            shape = dn.kernel_layout(spec.index, state[f"layer{spec.index}_w"]).shape
            state[f"layer{spec.index}_w"] = dn.stored_layout(spec.index, orthogonal(shape, rng))
    log = {}
    activity = measure(state)
    for spec in cfg.layers:
        if spec.is_output:
            continue
        layer = spec.index
        w, b = f"layer{layer}_w", f"layer{layer}_b"
        done = 0
        for done in range(1, iterations + 1):
            mean, std = activity.membrane(layer)
            # (without a bias there is nothing to shift: only the std is reached)
            if abs(std - u_std) <= tolerance and (abs(mean - u_mean) <= tolerance or b not in state):
                break
            gain = u_std / max(std, 1e-6)
            state[w] = state[w] * gain
            if b in state:
                state[b] = (state[b] - mean) * gain + u_mean
            activity = measure(state)
        if rate_hz is not None and b in state:
            activity, shifts = _shift_to_rate(layer, state, b, rate_hz, activity, measure, tolerance,
                                              2 * iterations)
            done += shifts
        old, new = _summary(before, layer), _summary(activity, layer)
        log[layer] = {"before": old, "after": new, "measurements": done}
        report(f"initialisation (LSUV) layer {layer}: u mean {old['u_mean']:.2f} -> {new['u_mean']:.2f}, "
               f"std {old['u_std']:.2f} -> {new['u_std']:.2f}, rate {old['rate_hz']:.1f} -> {new['rate_hz']:.1f} Hz "
               f"(median {new['rate_median_hz']:.0f} Hz, {new['fast_fraction']:.0%} above {FAST_HZ:.0f} Hz, "
               f"{new['silent_fraction']:.0%} silent; {new['unreached_fraction']:.0%} reached by no input)")
    return state, log


def _shift_to_rate(layer, state, b, rate_hz, activity, measure, tolerance, budget) -> tuple[Activity, int]:
    """Shift each bias of the layer (numbered from 1; one per channel, a dense layer's one per neuron) until the mean
    rate of the units it drives is within tolerance (relative) of rate_hz. A rate grows with its bias, so
    each offset is bracketed by steps that double, then bisected; the channels do not drive each other,
    so one measurement serves all of them. Returns the last measurement and how many were made (at most
    budget)."""
    base = state[b].copy()
    step = max(activity.membrane(layer)[1], 1e-3)   # the first step: one standard deviation of u
    low, high, offset = np.full(len(base), -np.inf), np.full(len(base), np.inf), np.zeros(len(base))
    for n in range(1, budget + 1):
        rates = activity.channel_rates_hz(layer)
        reached = np.abs(rates - rate_hz) <= tolerance * rate_hz
        if reached.all():
            return activity, n - 1
        high = np.where(~reached & (rates > rate_hz), offset, high)
        low = np.where(~reached & (rates < rate_hz), offset, low)
        jump = step * 2 ** (n - 1)
        with np.errstate(invalid="ignore"):   # (-inf + inf: the midpoint of an open bracket, never chosen)
            middle = (low + high) / 2
        moved = np.where(np.isinf(low), offset - jump, np.where(np.isinf(high), offset + jump, middle))
        offset = np.where(reached, offset, moved)
        state[b] = base + offset
        activity = measure(state)
    return activity, budget


def _summary(activity: Activity, layer: int) -> dict:
    mean, std = activity.membrane(layer)
    return {"u_mean": mean, "u_std": std, **activity.rates(layer)}
