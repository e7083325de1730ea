"""Figures of a classification study (Poisson MNIST, DVS Gesture), from its saved results only.

Reads summary.json, results.npz and test_sample.npz of an output folder and
writes PNGs next to them. Every title carries the data's name, and SYNTHETIC
when the data were generated.
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _load(out_dir):
    out_dir = Path(out_dir)
    summary = json.loads((out_dir / "summary.json").read_text())
    results = np.load(out_dir / "results.npz")
    sample = np.load(out_dir / "test_sample.npz")
    synthetic = summary["synthetic_data"] and "SYNTHETIC" not in summary["task"]
    tag = ("SYNTHETIC data: " if synthetic else "") + summary["task"]
    return out_dir, summary, results, sample, tag


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def accuracy_curves(out_dir, zoom_samples=3000, name="accuracy.png"):
    """Test accuracy per layer against training samples: the whole run and the first zoom_samples
    (paper Fig. 2)."""
    out_dir, summary, res, _, tag = _load(out_dir)
    x, acc = res["eval_samples"], res["eval_accuracy"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, limit in zip(axes, (None, zoom_samples)):
        keep = slice(None) if limit is None else x <= limit
        for k in range(acc.shape[1]):
            ax.plot(x[keep], acc[keep, k], "o-", label=f"layer {k + 1}")
        ax.set_xlabel("training samples")
        ax.set_title("whole run" if limit is None else f"first {limit} samples")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy")
    axes[0].legend()
    fig.suptitle(f"{tag}\ntest accuracy of each layer's local readout ({summary['device']})", fontsize=9)
    return _save(fig, out_dir / name)


def error_curves(out_dir, name="error.png"):
    """Test error per layer during learning (paper Fig. 5)."""
    out_dir, summary, res, _, tag = _load(out_dir)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for k in range(res["eval_accuracy"].shape[1]):
        ax.plot(res["eval_samples"], 1 - res["eval_accuracy"][:, k], "o-", label=f"layer {k + 1}")
    ax.set_xlabel("training samples")
    ax.set_ylabel("test error")
    ax.set_title(f"{tag}\ntest error per layer during learning", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, out_dir / name)


def raster(out_dir, n_units=5, name="raster.png"):
    """Spikes of n_units neighbouring layer-1 units (the middle of those recorded, which sit
    in the middle row of the first channel) during the recorded test sample (paper Fig. 4)."""
    out_dir, _, _, sample, tag = _load(out_dir)
    first = max(0, (sample["layer1_spikes"].shape[1] - n_units) // 2)
    spikes = sample["layer1_spikes"][:, first:first + n_units]
    fig, ax = plt.subplots(figsize=(8, 0.5 * n_units + 1.5))
    for unit in range(spikes.shape[1]):
        steps = np.nonzero(spikes[:, unit])[0]
        ax.vlines(steps, unit + 0.6, unit + 1.4, color="k", lw=0.8)
    ax.set_yticks(range(1, spikes.shape[1] + 1))
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("layer-1 unit")
    ax.set_xlim(0, len(spikes))
    ax.set_title(f"{tag}\nlayer-1 spikes, test sample of class {int(sample['label'])}", fontsize=9)
    return _save(fig, out_dir / name)


def membrane(out_dir, name="membrane.png"):
    """Membrane potentials of the recorded layer-1 units during the test sample."""
    out_dir, _, _, sample, tag = _load(out_dir)
    u = sample["layer1_u"]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for unit in range(u.shape[1]):
        ax.plot(u[:, unit], lw=0.8, label=f"unit {unit + 1}")
    ax.axhline(0, color="k", ls=":", lw=0.8)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("u (threshold 0)")
    ax.legend(fontsize=7, ncol=5)
    ax.set_title(f"{tag}\nlayer-1 membrane potentials, test sample of class {int(sample['label'])}", fontsize=9)
    return _save(fig, out_dir / name)


def readouts(out_dir, name="readouts.png"):
    """Every layer's local readout during the recorded test sample; the true class in bold."""
    out_dir, _, _, sample, tag = _load(out_dir)
    y, label = sample["readout_y"], int(sample["label"])
    fig, axes = plt.subplots(len(y), 1, figsize=(8, 2.2 * len(y)), sharex=True)
    for k, ax in enumerate(np.atleast_1d(axes)):
        for c in range(y.shape[-1]):
            ax.plot(y[k, :, c], lw=2.0 if c == label else 0.6, color="C3" if c == label else "0.6")
        ax.set_ylabel(f"layer {k + 1}\nreadout")
    np.atleast_1d(axes)[-1].set_xlabel("time (ms)")
    fig.suptitle(f"{tag}\nlocal readouts, test sample of class {label} (bold)", fontsize=9)
    return _save(fig, out_dir / name)


def input_frames(out_dir, shape, n_frames=6, name="input.png"):
    """The recorded test sample's input, summed over n_frames equal time bins; shape (channels, h, w)."""
    out_dir, _, _, sample, tag = _load(out_dir)
    x = sample["input"].reshape(len(sample["input"]), *shape)
    bins = np.array_split(np.arange(len(x)), n_frames)
    fig, axes = plt.subplots(shape[0], n_frames, figsize=(1.8 * n_frames, 1.9 * shape[0] + 0.8), squeeze=False)
    for j, idx in enumerate(bins):
        for c in range(shape[0]):
            ax = axes[c, j]
            ax.imshow(x[idx, c].sum(axis=0), cmap="gray_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(f"{idx[0]}-{idx[-1] + 1} ms", fontsize=8)
        axes[0, 0].set_ylabel("channel 1" if shape[0] > 1 else "events")
    if shape[0] > 1:
        axes[1, 0].set_ylabel("channel 2")
    fig.suptitle(f"{tag}\ninput events of a test sample of class {int(sample['label'])}", fontsize=9)
    return _save(fig, out_dir / name)


def plot_all(out_dir, input_shape):
    return [accuracy_curves(out_dir), error_curves(out_dir), raster(out_dir), membrane(out_dir),
            readouts(out_dir), input_frames(out_dir, input_shape)]
