"""Figures of the regression study, made from its saved results only.

    python figures/regression.py OUT_DIR      # re-plot without re-running
"""
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

SYNTHETIC = "synthetic Poisson input"


def _raster(ax, spikes, color="k"):
    steps, units = np.nonzero(spikes)
    ax.scatter(steps, units, s=1, marker="|", c=color, linewidths=0.5)
    ax.set_xlim(0, len(spikes))


def fig_states(res, path):
    """Fig. 1 (right) analogue: states of a few neurons per layer after training, lr = 0."""
    rows = ("input raster", "presynaptic trace ε∗s", "membrane u", "σ'(u)", "local error err", "readout")
    fig, axes = plt.subplots(len(rows), 3, figsize=(13, 12), sharex=True)
    t = np.arange(len(res["input_spikes"]))
    pre_spikes = [res["input_spikes"], res["layer1_spikes"], res["layer2_spikes"]]
    pre_trace = [res["input_p"], res["layer1_p"], res["layer2_p"]]
    for k in range(3):
        col = axes[:, k]
        _raster(col[0], pre_spikes[k][:, :50])
        col[1].plot(t, pre_trace[k], lw=0.8)
        col[2].plot(t, res[f"layer{k + 1}_u"], lw=0.8)
        col[2].axhline(0, color="r", ls="--", lw=0.8, label="threshold")
        col[3].plot(t, res[f"layer{k + 1}_sg"], lw=0.8)
        col[4].plot(t, res[f"layer{k + 1}_err"], lw=0.8)
        col[5].plot(t, res[f"layer{k + 1}_target"], "k--", lw=1, label="target")
        col[5].plot(t, res[f"layer{k + 1}_y"][-1], lw=1, label="readout")
        col[0].set_title(f"layer {k + 1}")
        col[-1].set_xlabel("time (ms)")
    for row, label in zip(axes[:, 0], rows):
        row.set_ylabel(label)
    axes[2, 0].legend(loc="upper right", fontsize=7)
    axes[5, 0].legend(loc="upper right", fontsize=7)
    fig.suptitle(f"Neural states after training, recorded with learning rate 0 ({SYNTHETIC})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_readouts(res, summary, path):
    """Readout against target per layer: first epoch, last epoch, and after training (lr = 0)."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    t = np.arange(res["layer1_y"].shape[1])
    epochs = summary["epochs"]
    for k, ax in enumerate(axes):
        y = res[f"layer{k + 1}_y"]
        ax.plot(t, res[f"layer{k + 1}_target"], "k--", lw=1.5, label="target")
        ax.plot(t, y[0], lw=0.8, alpha=0.7, label="epoch 1 (learning, dropout)")
        ax.plot(t, y[epochs - 1], lw=0.8, label=f"epoch {epochs} (learning, dropout)")
        ax.plot(t, y[-1], lw=1.2, label="after training (lr 0, no dropout)")
        ax.set_ylabel(f"layer {k + 1} readout")
    axes[0].legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle(f"Local readouts before and after training ({SYNTHETIC})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_loss(res, summary, path):
    """Loss and normalised MSE per epoch per layer."""
    epochs = summary["epochs"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for k in range(3):
        axes[0].plot(np.arange(1, epochs + 1), res[f"layer{k + 1}_loss"][:epochs].mean(axis=1), label=f"layer {k + 1}")
        axes[1].plot(np.arange(1, epochs + 1), res[f"layer{k + 1}_nmse"][:epochs], label=f"layer {k + 1}")
    axes[0].set_ylabel("smooth-L1 loss per step")
    axes[1].set_ylabel("MSE / variance of target")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.legend()
    fig.suptitle(f"Learning curves ({SYNTHETIC})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fig_raster(res, path):
    """Spikes of all neurons of the three layers after training."""
    fig, axes = plt.subplots(4, 1, figsize=(10, 9), sharex=True)
    _raster(axes[0], res["input_spikes"])
    axes[0].set_ylabel("input")
    for k in range(3):
        spikes = res[f"layer{k + 1}_spikes"]
        _raster(axes[k + 1], spikes, color=f"C{k}")
        axes[k + 1].set_ylabel(f"layer {k + 1}\n{spikes.mean() * 1000:.1f} Hz")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle(f"Rasters after training, lr 0 ({SYNTHETIC})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_all(out_dir):
    out_dir = Path(out_dir)
    with np.load(out_dir / "results.npz") as data:
        res = dict(data)
    summary = json.loads((out_dir / "summary.json").read_text())
    paths = [out_dir / name for name in ("states.png", "readouts.png", "learning_curves.png", "raster.png")]
    fig_states(res, paths[0])
    fig_readouts(res, summary, paths[1])
    fig_loss(res, summary, paths[2])
    fig_raster(res, paths[3])
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for p in plot_all(sys.argv[1]):
        print(p)
