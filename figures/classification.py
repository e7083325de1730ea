"""Figures of a classification study (Poisson MNIST, DVS Gesture), from its saved results only.

    python figures/classification.py OUT      # re-plot an output folder without re-running

Reads summary.json, results.npz, predictions.npz, weights.npz, test_sample.npz and, for the
input shape, time step and burn-in, config.json of an output folder, and writes PNGs next
to them. A figure whose file or key an older folder lacks is skipped. Every title carries
the task, and SYNTHETIC when the data were generated.
"""
import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from brian_decolle.classifier import votes  # noqa: E402
from brian_decolle.health import RATE_WARNING_HZ, SILENT_WARNING  # noqa: E402

SILENT_TITLE = "no layer-1 spike in this test sample"


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


def load(out_dir) -> Run:
    out = Path(out_dir)
    if not (out / "summary.json").is_file():
        raise FileNotFoundError(f"{out} holds no summary.json: not the output folder of a finished classification run")
    summary = json.loads((out / "summary.json").read_text())
    config = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else {}
    arrays = {}
    for name in ("results", "predictions", "weights", "test_sample"):
        path = out / f"{name}.npz"
        arrays[name] = {}
        if path.is_file():
            with np.load(path) as f:
                arrays[name] = {k: f[k] for k in f.files}
    synthetic = summary.get("synthetic_data") and "SYNTHETIC" not in summary["task"]
    tag = ("SYNTHETIC data: " if synthetic else "") + summary["task"]
    return Run(out, summary, config.get("network") or {}, arrays["results"], arrays["predictions"],
               arrays["weights"], arrays["test_sample"], tag)


def _figure(*args, **kwargs):
    # constrained layout: room for suptitles and shared colour bars without overlaps
    return plt.subplots(*args, layout="constrained", **kwargs)


def _save(fig, path):
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _note(ax, text):
    """A panel with nothing to plot says why instead of staying empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, wrap=True,
            bbox=dict(facecolor="lightyellow", edgecolor="0.5"))


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


def accuracy_curves(run, zoom_samples=3000, name="accuracy.png"):
    """Held-out test accuracy per layer against training samples: the whole run and the first
    zoom_samples (paper Fig. 2), with chance, the paper's value and the test sizes."""
    if "eval_accuracy" not in run.results:
        return None
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
    return _save(fig, run.out / name)


def error_curves(run, name="error.png"):
    """Held-out test error per layer during learning (paper Fig. 5), with the chance error."""
    if "eval_accuracy" not in run.results:
        return None
    fig, ax = _figure(figsize=(7, 4.2))
    _test_panel(ax, run, slice(None), error=True)
    ax.set_title(f"{run.tag}\ntest error per layer during learning", fontsize=9)
    return _save(fig, run.out / name)


def train_curves(run, name="train.png"):
    """The training vote of each layer while its readout is fit online to that very label (so
    never an accuracy), and the learning rate of each run."""
    res = run.results
    if "train_fit" not in res:
        return None
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
    return _save(fig, run.out / name)


def confusion(run, name="confusion.png"):
    """One confusion matrix per layer of the final test, each row normalised per true class."""
    if not run.predictions:
        return None
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
    return _save(fig, run.out / name)


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
                bbox=dict(facecolor="w", alpha=0.7, pad=0.5, lw=0))
    ax.set_yticks([])
    ax.set_xticks([(j * (w + 1)) + (w - 1) / 2 for j in range(per_row * c)] if c > 1 else [],
                  [f"in {j % c}" for j in range(per_row * c)] if c > 1 else [], fontsize=6)
    return ax.imshow(canvas, **style)


def kernels(run, input_shape, max_units=64, name="kernels.png"):
    """Learned layer-1 weights on one symmetric colour scale: conv kernels (out_ch x in_ch), a
    dense layer's input weights as images of the input, else a (unit x input) heat map."""
    w = run.weights.get("layer1_w")
    if w is None:
        return None
    scale = max(float(np.abs(w).max()), 1e-12)
    style = dict(cmap=plt.get_cmap("RdBu_r").with_extremes(bad="0.75"), vmin=-scale, vmax=scale,
                 interpolation="nearest")
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
    return _save(fig, run.out / name)


def _health(run):
    """(training samples, per-layer health) of every evaluation that recorded health."""
    entries = [(h["training_samples"], h["layers"]) for h in run.summary.get("health") or [] if h.get("layers")]
    return np.array([e[0] for e in entries]), [e[1] for e in entries]


def weight_bands(run, name="weights.png"):
    """Per layer, the weight (and bias) distribution over training: median, 25-75 and 5-95
    percentile bands, min and max dotted."""
    x, health = _health(run)
    if not health or "weight_percentiles" not in health[0][0]:
        return None
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
    return _save(fig, run.out / name)


def rates(run, name="rates.png"):
    """Per layer, the mean firing rate and the share of units that never spiked, at every test,
    with the levels at which training warns."""
    x, health = _health(run)
    if not health:
        return None
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
    return _save(fig, run.out / name)


def _layer1(run, key, units_key):
    """The test sample, its recorded layer-1 traces (steps, units), their unit indices and the time
    axis; None when the folder holds no such recording."""
    sample = run.sample
    if key not in sample:
        return None
    values = sample[key]
    return (sample, values, sample.get(units_key, np.arange(values.shape[1])), *_time(run, len(values)))


def _silent(sample):
    return "layer1_spikes" in sample and not sample["layer1_spikes"].any()


def raster(run, name="raster.png"):
    """Spikes of the recorded layer-1 units (the sample's most active ones) during the test
    sample (paper Fig. 4), labelled by unit index."""
    recorded = _layer1(run, "layer1_spikes", "layer1_units")
    if recorded is None:
        return None
    sample, spikes, units, t, t_label = recorded
    fig, ax = _figure(figsize=(8, 0.22 * spikes.shape[1] + 2))
    for row in range(spikes.shape[1]):
        ax.vlines(t[spikes[:, row] > 0], row + 0.6, row + 1.4, color="k", lw=0.8)
    counts = spikes.sum(axis=0)
    ax.set_yticks(range(1, spikes.shape[1] + 1), [f"{u} ({n:g})" for u, n in zip(units, counts)], fontsize=6)
    ax.set(ylim=(0.4, spikes.shape[1] + 0.6), xlim=(0, len(spikes) * (run.network.get("dt_ms") or 1)),
           xlabel=t_label, ylabel="layer-1 unit index (spikes)")
    chosen = "most active" if "layer1_units" in sample else "recorded"   # older folders: fixed units
    headline = f"spikes of the {spikes.shape[1]} {chosen} layer-1 units"
    if _silent(sample):
        headline = SILENT_TITLE
        _note(ax, f"all {spikes.shape[1]} recorded layer-1 units, the sample's most active, stayed silent")
    ax.set_title(f"{run.tag}\n{headline}, test sample of class {int(sample['label'])}", fontsize=9)
    return _save(fig, run.out / name)


def membrane(run, name="membrane.png"):
    """Membrane potentials of the recorded layer-1 units during the test sample; spikes when u > 0."""
    recorded = _layer1(run, "layer1_u", "layer1_u_units")
    if recorded is None:
        return None
    sample, u, units, t, t_label = recorded
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
    return _save(fig, run.out / name)


def readouts(run, name="readouts.png"):
    """Every layer's local readout during the test sample (true class bold) and its vote:
    the majority of the per-step argmax after the burn-in (config.json), else over all steps."""
    sample = run.sample
    if "readout_y" not in sample:
        return None
    y, label = sample["readout_y"], int(sample["label"])
    dt, burnin_ms = run.network.get("dt_ms"), run.network.get("burnin_ms")
    burnin, rule = 0, "vote over all steps"
    if dt and burnin_ms is not None:
        burnin = int(round(burnin_ms / dt))
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
    return _save(fig, run.out / name)


def input_frames(run, shape, n_frames=6, name="input.png"):
    """The test sample's input, summed over n_frames equal time bins; shape (channels, h, w)."""
    if "input" not in run.sample:
        return None
    x = run.sample["input"]
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
    return _save(fig, run.out / name)


def plot_all(out_dir, input_shape=None):
    """Every figure the folder's files allow; input_shape (channels, h, w), else config.json's.
    Returns the written paths."""
    run = load(out_dir)
    shape = input_shape or run.network.get("input_shape")
    paths = [accuracy_curves(run), error_curves(run), train_curves(run), confusion(run), kernels(run, shape),
             weight_bands(run), rates(run), raster(run), membrane(run), readouts(run), input_frames(run, shape)]
    return [p for p in paths if p is not None]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Re-plot the figures of a classification study's output folder.")
    parser.add_argument("out", help="output folder of studies/mnist.py or studies/dvs_gesture.py")
    args = parser.parse_args(argv)
    try:
        paths = plot_all(args.out)
    except FileNotFoundError as exc:
        parser.exit(1, f"error: {exc}\n")
    for path in paths:
        print(path)
    return paths


if __name__ == "__main__":
    main()
