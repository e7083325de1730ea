"""Figures of a classification study (Poisson MNIST, DVS Gesture), from its saved results only.

    run = load(out_dir)          # summary.json, the npz files and config.json of an output folder
    fig = accuracy_curves(run)   # each figure function returns a matplotlib Figure and saves nothing
    plot_all(out_dir)            # every figure the folder allows, as PNGs next to its files

A figure whose file or key an older folder lacks raises MissingData (a ConfigError), and
figures() / plot_all() leave it out. Every title carries the task, and SYNTHETIC when the
data were generated. No pyplot: the figures are plain Figures, so that importing this module
never chooses a backend (a notebook keeps its own).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from brian_decolle.classifier import votes
from brian_decolle.checks import ConfigError
from brian_decolle.health import RATE_WARNING_HZ, SILENT_WARNING

SILENT_TITLE = "no layer-1 spike in this test sample"
DPI = 120


class MissingData(ConfigError):
    """The folder lacks the file or key one figure is drawn from (older runs wrote fewer)."""


@dataclass
class Run:
    """Everything an output folder holds; a missing npz file is an empty dict."""

    out: Path
    summary: dict
    network: dict   # config.json's "network" ({} without config.json)
    results: dict
    predictions: dict
    weights: dict
    sample: dict
    tag: str
    input_shape: tuple | None   # (channels, h, w) of the input, None when unknown


def _npz(path) -> dict:
    if not path.is_file():
        return {}
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _json(path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc})") from None


def load(out_dir, input_shape=None) -> Run:
    """The output folder of a classification run; input_shape (channels, h, w), else config.json's."""
    out = Path(out_dir)
    if not (out / "summary.json").is_file():
        raise ConfigError(f"{out} holds no summary.json: not the output folder of a finished classification run")
    summary = _json(out / "summary.json")
    config = _json(out / "config.json") if (out / "config.json").is_file() else {}
    network = config.get("network") or {}
    synthetic = summary.get("synthetic_data") and "SYNTHETIC" not in summary["task"]
    tag = ("SYNTHETIC data: " if synthetic else "") + summary["task"]
    shape = input_shape or network.get("input_shape")
    return Run(out, summary, network, _npz(out / "results.npz"), _npz(out / "predictions.npz"),
               _npz(out / "weights.npz"), _npz(out / "test_sample.npz"), tag, tuple(shape) if shape else None)


def _require(run, present, what):
    if not present:
        raise MissingData(f"{run.out} holds no {what}")


def _figure(nrows=1, ncols=1, figsize=None, **subplots):
    # constrained layout: room for suptitles and shared colour bars without overlaps
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, **subplots)


def _note(ax, text):
    """A panel with nothing to plot says why instead of staying empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, wrap=True,
            bbox={"facecolor": "lightyellow", "edgecolor": "0.5"})


def _time(run, n_steps):
    """Time axis of the test sample: ms when config.json gives the time step, else steps."""
    dt = run.network.get("dt_ms")
    return (np.arange(n_steps) * dt, "time (ms)") if dt else (np.arange(n_steps), "time step")


def _chance(run):
    s = run.summary
    return s.get("chance_accuracy") or (1 / s["n_classes"] if s.get("n_classes") else None)


def _references(ax, run, error=False):
    """Dashed chance level and the paper's (best-layer, real data) value when it is comparable."""
    chance, paper = _chance(run), run.summary.get("paper_accuracy")
    if chance is not None:
        value = 1 - chance if error else chance
        ax.axhline(value, color="0.4", ls="--", lw=1, label=f"chance{' error' if error else ''} {value:.3f}")
    if paper is not None:
        value = 1 - paper if error else paper
        ax.axhline(value, color="k", ls="-.", lw=1, label=f"paper, best layer {value:.3f}")


def _test_label(run, k):
    """'layer k (n_test 200; final 1000)': tests during training use a subset, the last one all."""
    n = run.results.get("eval_n_test")
    if n is None or not len(n):
        return f"layer {k + 1}"
    during = sorted(set(n[:-1].tolist()))
    sizes = f"n_test {'/'.join(map(str, during))}; final {n[-1]}" if during else f"n_test {n[-1]}"
    return f"layer {k + 1} ({sizes})"


def _test_panel(ax, run, keep, error=False):
    """Each layer's held-out test accuracy (or error) at the tests in keep, with the references."""
    x, acc = run.results["eval_samples"][keep], run.results["eval_accuracy"][keep]
    for k in range(acc.shape[1]):
        ax.plot(x, 1 - acc[:, k] if error else acc[:, k], "o-", color=f"C{k}", label=_test_label(run, k))
    _references(ax, run, error)
    ax.set(xlabel="training samples", ylabel=f"test {'error' if error else 'accuracy'} (held-out samples)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def accuracy_curves(run, zoom_samples=3000) -> Figure:
    """Held-out test accuracy per layer against training samples: the whole run and the first
    zoom_samples (paper Fig. 2), with chance, the paper's value and the test sizes."""
    _require(run, "eval_accuracy" in run.results, "test accuracies in results.npz")
    fig, axes = _figure(1, 2, figsize=(11, 4.2), sharey=True)
    _test_panel(axes[0], run, slice(None))
    axes[0].set_title("whole run", fontsize=9)
    zoom = run.results["eval_samples"] <= zoom_samples
    _test_panel(axes[1], run, zoom)
    axes[1].set_title(f"first {zoom_samples} samples", fontsize=9)
    if not zoom.any():
        _note(axes[1], f"no test within the first {zoom_samples} training samples")
    fig.suptitle(f"{run.tag}\ntest accuracy of each layer's local readout on held-out samples "
                 f"({run.summary['device']})", fontsize=9)
    return fig


def error_curves(run) -> Figure:
    """Held-out test error per layer during learning (paper Fig. 5), with the chance error."""
    _require(run, "eval_accuracy" in run.results, "test accuracies in results.npz")
    fig, ax = _figure(figsize=(7, 4.2))
    _test_panel(ax, run, slice(None), error=True)
    ax.set_title(f"{run.tag}\ntest error per layer during learning", fontsize=9)
    return fig


def train_curves(run) -> Figure:
    """The training vote of each layer while its readout is fit online to that very label (so
    never an accuracy), and the learning rate of each run."""
    res = run.results
    _require(run, "train_fit" in res, "training votes in results.npz")
    x, fit = res["train_samples"], res["train_fit"]
    fig, ax = _figure(figsize=(8, 4.2))
    for k in range(fit.shape[1]):
        ax.plot(x, fit[:, k], "-", lw=1, color=f"C{k}", label=f"layer {k + 1}: train, readout fit online")
    if _chance(run) is not None:
        ax.axhline(_chance(run), color="0.4", ls="--", lw=1, label=f"chance {_chance(run):.3f}")
    if not len(x):
        _note(ax, "no training run recorded")
    ax.set(xlabel="training samples", ylabel="train, readout fit online\n(share of a run's samples voted right)")
    ax.grid(alpha=0.3)
    lr_ax = ax.twinx()
    # a run's learning rate holds over the samples that end at its x
    lr_ax.step(x, res["train_lr"], where="pre", color="k", ls=":", lw=1.2, label="learning rate")
    lr_ax.set_ylabel("learning rate")
    (lines, labels), (extra, extra_labels) = ax.get_legend_handles_labels(), lr_ax.get_legend_handles_labels()
    fig.legend(lines + extra, labels + extra_labels, loc="outside lower center", ncol=3, fontsize=7)
    ax.set_title(f"{run.tag}\ntrain, readout fit online (the readout learns the label it votes on: "
                 "not a test)", fontsize=9)
    return fig


def confusion(run) -> Figure:
    """One confusion matrix per layer of the final test, each row normalised per true class."""
    _require(run, run.predictions, "predictions.npz")
    pred, labels = run.predictions["predictions"], run.predictions["labels"]
    n = int(run.summary.get("n_classes") or max(pred.max(), labels.max()) + 1)
    fig, axes = _figure(1, len(pred), figsize=(3.6 * len(pred) + 1, 4), squeeze=False)
    for k, ax in enumerate(axes[0]):
        counts = np.zeros((n, n))
        np.add.at(counts, (labels, pred[k]), 1)
        per_class = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, per_class, out=np.full_like(counts, np.nan), where=per_class > 0)
        image = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        if n <= 12:
            for (i, j), v in np.ndenumerate(share):
                ax.text(j, i, "-" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=6,
                        color="w" if v > 0.6 else "k")
        ax.set_title(f"layer {k + 1}: test accuracy {np.mean(pred[k] == labels):.3f}", fontsize=9)
        ax.set(xticks=range(n), yticks=range(n), xlabel="predicted class", ylabel="true class")
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="share of the true class")
    fig.suptitle(f"{run.tag}\nfinal test confusion per layer (n_test {len(labels)}; rows: true class, "
                 "normalised; '-': class absent)", fontsize=9)
    return fig


def _mosaic(ax, tiles, style):
    """Draw (units, channels, h, w) as one image: a unit's channels side by side, units in rows
    about as wide as tall, NaN gaps (grey, apart from zero weights), each tile's unit index."""
    n, c, h, w = tiles.shape
    per_row = max(1, min(n, round(math.sqrt(n * (h + 1) / (c * (w + 1))))))
    canvas = np.full((math.ceil(n / per_row) * (h + 1) - 1, per_row * c * (w + 1) - 1), np.nan)
    for unit in range(n):
        row, col = divmod(unit, per_row)
        for ch in range(c):
            left = (col * c + ch) * (w + 1)
            canvas[row * (h + 1):row * (h + 1) + h, left:left + w] = tiles[unit, ch]
        ax.text(col * c * (w + 1) - 0.4, row * (h + 1) - 0.4, str(unit), fontsize=7, va="top",
                bbox={"facecolor": "w", "alpha": 0.7, "pad": 0.5, "lw": 0})
    ax.set_yticks([])
    ax.set_xticks([(j * (w + 1)) + (w - 1) / 2 for j in range(per_row * c)] if c > 1 else [],
                  [f"in {j % c}" for j in range(per_row * c)] if c > 1 else [], fontsize=6)
    return ax.imshow(canvas, **style)


def kernels(run, max_units=64) -> Figure:
    """Learned layer-1 weights on one symmetric colour scale: conv kernels (out_ch x in_ch), a
    dense layer's input weights as images of the input, else a (unit x input) heat map."""
    _require(run, "layer1_w" in run.weights, "layer-1 weights in weights.npz")
    w, input_shape = run.weights["layer1_w"], run.input_shape
    scale = max(float(np.abs(w).max()), 1e-12)
    style = {"cmap": matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.75"), "vmin": -scale, "vmax": scale,
             "interpolation": "nearest"}
    if w.ndim == 4:
        tiles, what = w, f"{w.shape[0]} output x {w.shape[1]} input channels, {w.shape[2]}x{w.shape[3]} kernels"
    elif input_shape and min(input_shape[1:]) > 1 and math.prod(input_shape) == w.shape[1]:
        tiles = w[:max_units].reshape(-1, *input_shape)
        what = f"input weights of units 0-{len(tiles) - 1} (of {len(w)}) as input images"
    else:
        tiles, what = None, f"{w.shape[0]} units x {w.shape[1]} inputs"
    if tiles is None:
        fig, ax = _figure(figsize=(9, 4.5))
        image = ax.imshow(w, aspect="auto", **style)
        ax.set(xlabel="input", ylabel="layer-1 unit")
    else:
        fig, ax = _figure(figsize=(9, 8))
        image = _mosaic(ax, tiles, style)
        what += "; tiles numbered by unit" + (", input channels side by side" if tiles.shape[1] > 1 else "")
    fig.colorbar(image, ax=ax, shrink=0.7, label="weight")
    fig.suptitle(f"{run.tag}\nlearned layer-1 weights: {what}", fontsize=9)
    return fig


def _health(run):
    """(training samples, per-layer health) of every evaluation that recorded health."""
    entries = [(h["training_samples"], h["layers"]) for h in run.summary.get("health") or [] if h.get("layers")]
    return np.array([e[0] for e in entries]), [e[1] for e in entries]


def weight_bands(run) -> Figure:
    """Per layer, the weight (and bias) distribution over training: median, 25-75 and 5-95
    percentile bands, min and max dotted."""
    x, health = _health(run)
    _require(run, health and "weight_percentiles" in health[0][0], "weight percentiles in summary.json's health")
    kinds = ["weight", "bias"] if any(layer.get("bias_percentiles") for layer in health[0]) else ["weight"]
    fig, axes = _figure(len(health[0]), len(kinds), figsize=(5.5 * len(kinds), 2.4 * len(health[0]) + 0.8),
                        squeeze=False, sharex=True)
    for k, layer in enumerate(health[0]):
        for ax, kind in zip(axes[k], kinds):
            ax.set_ylabel(f"layer {layer['layer']}\n{kind}")
            ax.grid(alpha=0.3)
            if layer.get(f"{kind}_percentiles") is None:
                _note(ax, f"layer {layer['layer']} has no {kind}es (bias=False)")
                continue
            p = np.array([h[k][f"{kind}_percentiles"] for h in health])   # percentiles 0 5 25 50 75 95 100
            ax.fill_between(x, p[:, 1], p[:, 5], color=f"C{k}", alpha=0.2, label="5-95 %")
            ax.fill_between(x, p[:, 2], p[:, 4], color=f"C{k}", alpha=0.45, label="25-75 %")
            ax.plot(x, p[:, 3], "o-", color=f"C{k}", ms=3, label="median")
            ax.plot(x, p[:, 0], ":", color=f"C{k}", label="min / max")
            ax.plot(x, p[:, 6], ":", color=f"C{k}")
            ax.legend(fontsize=6, loc="upper left")
    for ax in axes[-1]:
        ax.set_xlabel("training samples")
    fig.suptitle(f"{run.tag}\nweight and bias distributions over training (at every test)", fontsize=9)
    return fig


def rates(run) -> Figure:
    """Per layer, the mean firing rate and the share of units that never spiked, at every test,
    with the levels at which training warns."""
    x, health = _health(run)
    _require(run, health, "per-layer health in summary.json")
    fig, (ax_rate, ax_silent) = _figure(1, 2, figsize=(11, 4.2), sharex=True)
    for k, layer in enumerate(health[0]):
        ax_rate.plot(x, [h[k]["rate_hz"] for h in health], "o-", color=f"C{k}", label=f"layer {layer['layer']}")
        if layer.get("silent_fraction") is not None:
            ax_silent.plot(x, [h[k]["silent_fraction"] for h in health], "o-", color=f"C{k}",
                           label=f"layer {layer['layer']}")
    no_silent = [str(layer["layer"]) for layer in health[0] if layer.get("silent_fraction") is None]
    ax_rate.axhline(RATE_WARNING_HZ, color="r", ls=":", lw=1, label="warning level")
    ax_silent.axhline(SILENT_WARNING, color="r", ls=":", lw=1, label="warning level")
    if no_silent:
        ax_silent.set_title(f"layer {', '.join(no_silent)}: the output layer (y = u), no silent fraction",
                            fontsize=8)
    ax_rate.set_ylabel("mean firing rate (Hz)")
    ax_silent.set(ylabel="silent fraction\n(units without a spike in any test sample)", ylim=(-0.03, 1.03))
    for ax in (ax_rate, ax_silent):
        ax.set_xlabel("training samples")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{run.tag}\nfiring per layer over the test samples of every evaluation", fontsize=9)
    return fig


def _layer1(run, key, units_key):
    """The test sample, its recorded layer-1 traces (steps, units), their unit indices and the time
    axis."""
    sample = run.sample
    _require(run, key in sample, f"{key} in test_sample.npz")
    values = sample[key]
    return (sample, values, sample.get(units_key, np.arange(values.shape[1])), *_time(run, len(values)))


def _silent(sample):
    return "layer1_spikes" in sample and not sample["layer1_spikes"].any()


def raster(run) -> Figure:
    """Spikes of the recorded layer-1 units during the test sample (paper Fig. 4), labelled by unit
    index and spike count: the sample's most active units and, beside them, units drawn at random
    (fixed for the run), which show the population (folders written before keep only the first)."""
    sample, spikes, units, t, t_label = _layer1(run, "layer1_spikes", "layer1_units")
    chosen = "most active" if "layer1_units" in sample else "recorded"   # older folders: fixed units
    panels = [(spikes, units, f"{spikes.shape[1]} {chosen} layer-1 units",
               f"all {spikes.shape[1]} recorded layer-1 units, the sample's most active, stayed silent")]
    if "layer1_random_spikes" in sample:
        rand = sample["layer1_random_spikes"]
        panels.append((rand, sample["layer1_random_units"], f"{rand.shape[1]} random layer-1 units",
                       f"none of the {rand.shape[1]} randomly chosen layer-1 units spiked in this sample"))
    fig, axes = _figure(1, len(panels), figsize=(8 * len(panels), 0.22 * spikes.shape[1] + 2.2), squeeze=False)
    for ax, (shown, indices, title, silent) in zip(axes[0], panels):
        _raster_panel(ax, run, shown, indices, t)
        ax.set_xlabel(t_label)
        ax.set_title(title, fontsize=9)
        if not shown.any():
            _note(ax, silent)
    headline = SILENT_TITLE if _silent(sample) else "layer-1 spikes"
    fig.suptitle(f"{run.tag}\n{headline}, test sample of class {int(sample['label'])}", fontsize=9)
    return fig


def _raster_panel(ax, run, spikes, units, t):
    """One raster: a row per unit, labelled 'index (spike count)'."""
    rows = spikes.shape[1]
    ax.eventplot([t[spikes[:, row] > 0] for row in range(rows)], lineoffsets=np.arange(1, rows + 1),
                 linelengths=0.8, colors="k", linewidths=0.8)
    ax.set_yticks(range(1, rows + 1), [f"{u} ({n:g})" for u, n in zip(units, spikes.sum(axis=0))], fontsize=6)
    ax.set(ylim=(0.4, rows + 0.6), xlim=(0, len(spikes) * (run.network.get("dt_ms") or 1)),
           ylabel="layer-1 unit index (spikes)")


def membrane(run) -> Figure:
    """Membrane potentials of the recorded layer-1 units during the test sample; spikes when u > 0."""
    sample, u, units, t, t_label = _layer1(run, "layer1_u", "layer1_u_units")
    fig, ax = _figure(figsize=(8, 3.6))
    for col, unit in enumerate(units):
        ax.plot(t, u[:, col], lw=0.8, label=f"unit {unit}")
    ax.axhline(0, color="k", ls=":", lw=0.8)
    if u.shape[1]:
        ax.legend(fontsize=7, ncol=5)
    else:
        _note(ax, "no layer-1 membrane was recorded")
    ax.set(xlabel=t_label, ylabel="u (threshold 0)")
    headline = "layer-1 membrane potentials"
    if _silent(sample):
        headline = SILENT_TITLE
    elif u.size and u.max() <= 0:
        headline += " (no recorded unit reaches threshold)"
    ax.set_title(f"{run.tag}\n{headline}, test sample of class {int(sample['label'])}", fontsize=9)
    return fig


def readouts(run) -> Figure:
    """Every layer's local readout during the test sample (true class bold) and its vote:
    the majority of the per-step argmax after the burn-in (config.json), else over all steps."""
    sample = run.sample
    _require(run, "readout_y" in sample, "readout_y in test_sample.npz")
    y, label = sample["readout_y"], int(sample["label"])
    dt, burnin_ms = run.network.get("dt_ms"), run.network.get("burnin_ms")
    burnin, rule = 0, "vote over all steps"
    if dt and burnin_ms is not None:
        burnin = round(burnin_ms / dt)
        rule = f"vote after the {burnin}-step burn-in"
    t, t_label = _time(run, y.shape[1])
    fig, axes = _figure(len(y), 1, figsize=(8, 2.3 * len(y) + 0.8), sharex=True, squeeze=False)
    for k, ax in enumerate(axes[:, 0]):
        for c in range(y.shape[-1]):
            ax.plot(t, y[k, :, c], lw=2.0 if c == label else 0.6, color="C3" if c == label else "0.6")
        if burnin:
            ax.axvspan(t[0], t[min(burnin, len(t) - 1)], color="0.9", label="burn-in")
        vote = int(votes(y[k][:, None, :], burnin)[0])
        verdict = "right" if vote == label else f"wrong (true {label})"
        ax.set_title(f"layer {k + 1}: predicts class {vote} ({rule}): {verdict}", fontsize=8,
                     color="k" if vote == label else "C3")
        ax.set_ylabel(f"layer {k + 1}\nreadout")
    axes[-1, 0].set_xlabel(t_label)
    fig.suptitle(f"{run.tag}\nlocal readouts, test sample of class {label} (bold)", fontsize=9)
    return fig


def input_frames(run, n_frames=6) -> Figure:
    """The test sample's input, summed over n_frames equal time bins, as images of the input
    shape (channels, h, w) when known."""
    _require(run, "input" in run.sample, "input in test_sample.npz")
    x, shape = run.sample["input"], run.input_shape
    if shape is None or math.prod(shape) != x.shape[1]:
        shape = (1, 1, x.shape[1])   # flat input: one row of inputs
    x = x.reshape(len(x), *shape)
    bins = [b for b in np.array_split(np.arange(len(x)), n_frames) if len(b)]
    fig, axes = _figure(shape[0], len(bins), figsize=(1.8 * len(bins), 1.9 * shape[0] + 0.9), squeeze=False)
    t, _ = _time(run, len(x) + 1)
    unit = "ms" if run.network.get("dt_ms") else "steps"
    for j, idx in enumerate(bins):
        for c in range(shape[0]):
            ax = axes[c, j]
            ax.imshow(x[idx, c].sum(axis=0), cmap="gray_r", aspect="auto" if shape[1] == 1 else "equal")
            ax.set(xticks=[], yticks=[])
            if c == 0:
                ax.set_title(f"{t[idx[0]]:g}-{t[idx[-1] + 1]:g} {unit}", fontsize=8)
            if j == 0:
                ax.set_ylabel(f"channel {c + 1}" if shape[0] > 1 else "events")
    fig.suptitle(f"{run.tag}\ninput events of a test sample of class {int(run.sample['label'])}", fontsize=9)
    return fig


# (file name stem, function): the stems are the file names the studies have always written
FIGURES = (("accuracy", accuracy_curves), ("error", error_curves), ("train", train_curves), ("confusion", confusion),
           ("kernels", kernels), ("weights", weight_bands), ("rates", rates), ("raster", raster),
           ("membrane", membrane), ("readouts", readouts), ("input", input_frames))


def figures(out_dir, input_shape=None) -> dict[str, Figure]:
    """Every figure the folder's files allow, by file name stem; input_shape (channels, h, w),
    else config.json's."""
    run = load(out_dir, input_shape)
    drawn = {}
    for stem, draw in FIGURES:
        try:
            drawn[stem] = draw(run)
        except MissingData:
            pass   # an older folder: the figures it can give are still worth having
    return drawn


def plot_all(out_dir, input_shape=None) -> list[Path]:
    """figures() saved as PNGs in out_dir; returns the written paths."""
    return [save(fig, Path(out_dir) / f"{stem}.png") for stem, fig in figures(out_dir, input_shape).items()]


def save(fig, path) -> Path:
    fig.savefig(path, dpi=DPI)
    return Path(path)


if __name__ == "__main__":
    from brian_decolle.figures import main

    raise SystemExit(main())
