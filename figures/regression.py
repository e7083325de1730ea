"""Figures of the regression study (paper Sec. 4.1, Fig. 1), from its saved results only.

    run = load(out_dir)     # results.npz and summary.json of an output folder
    fig = readouts(run)     # each figure function returns a matplotlib Figure and saves nothing
    plot_all(out_dir)       # states.png, readouts.png, learning_curves.png, raster.png in out_dir

No pyplot: the figures are plain Figures, so that importing this module never chooses a
backend (a notebook keeps its own).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from brian_decolle.checks import ConfigError

# the study only ever learns from generated spikes; every title says so
SYNTHETIC = "SYNTHETIC Poisson input"
DPI = 110
LAYERS = (1, 2, 3)
LAYER_KEYS = ("y", "target", "loss", "nmse", "spikes", "u", "p", "sg", "err")


@dataclass
class Run:
    """results.npz (arrays by key) and summary.json of a regression output folder."""

    out: Path
    results: dict
    summary: dict

    @property
    def dt_ms(self) -> float:
        return float(self.results.get("dt_ms", 1.0))

    @property
    def epochs(self) -> int:
        return int(self.summary["epochs"])


def load(out_dir) -> Run:
    """The output folder of a regression run; a ConfigError names any file or key it lacks."""
    out = Path(out_dir)
    missing = [name for name in ("results.npz", "summary.json") if not (out / name).is_file()]
    if missing:
        raise ConfigError(f"{out} holds no {' and no '.join(missing)}: not the output folder of a finished "
                          "regression run")
    with np.load(out / "results.npz") as data:
        results = {k: data[k] for k in data.files}
    try:
        summary = json.loads((out / "summary.json").read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{out / 'summary.json'} is not valid JSON ({exc})") from None
    needed = ["input_spikes", "input_p", *(f"layer{k}_{key}" for k in LAYERS for key in LAYER_KEYS)]
    lacking = [key for key in needed if key not in results]
    if lacking:
        raise ConfigError(f"{out / 'results.npz'} lacks {', '.join(lacking)}")
    if "epochs" not in summary:
        raise ConfigError(f"{out / 'summary.json'} lacks 'epochs'")
    return Run(out, results, summary)


def _figure(nrows, ncols, figsize, **subplots):
    fig = Figure(figsize=figsize, layout="tight")
    return fig, fig.subplots(nrows, ncols, **subplots)


def _time(run, n_steps):
    return np.arange(n_steps) * run.dt_ms


def _raster(ax, run, spikes, color="k"):
    """One row of spike times per unit (matplotlib's event plot)."""
    t = _time(run, len(spikes))
    ax.eventplot([t[spikes[:, unit] > 0] for unit in range(spikes.shape[1])], colors=color, linewidths=0.5,
                 linelengths=0.8)
    ax.set_xlim(0, len(spikes) * run.dt_ms)


def states(run) -> Figure:
    """Fig. 1 (right) analogue: states of a few neurons per layer after training, lr = 0."""
    res = run.results
    rows = ("input raster", "presynaptic trace ε∗s", "membrane u", "σ'(u)", "local error err", "readout")
    fig, axes = _figure(len(rows), 3, (13, 12), sharex=True)
    t = _time(run, len(res["input_spikes"]))
    # layer k is driven by the spikes and traces of the layer below it
    pre_spikes = [res["input_spikes"], res["layer1_spikes"], res["layer2_spikes"]]
    pre_trace = [res["input_p"], res["layer1_p"], res["layer2_p"]]
    for k, col in enumerate(axes.T):
        layer = f"layer{k + 1}"
        _raster(col[0], run, pre_spikes[k][:, :50])
        col[1].plot(t, pre_trace[k], lw=0.8)
        col[2].plot(t, res[f"{layer}_u"], lw=0.8)
        col[2].axhline(0, color="r", ls="--", lw=0.8, label="threshold")
        col[3].plot(t, res[f"{layer}_sg"], lw=0.8)
        col[4].plot(t, res[f"{layer}_err"], lw=0.8)
        col[5].plot(t, res[f"{layer}_target"], "k--", lw=1, label="target")
        col[5].plot(t, res[f"{layer}_y"][-1], lw=1, label="readout")
        col[0].set_title(f"layer {k + 1}")
        col[-1].set_xlabel("time (ms)")
    for row, label in zip(axes[:, 0], rows):
        row.set_ylabel(label)
    axes[2, 0].legend(loc="upper right", fontsize=7)
    axes[5, 0].legend(loc="upper right", fontsize=7)
    fig.suptitle(f"Neural states after training, recorded with learning rate 0 ({SYNTHETIC})")
    return fig


def readouts(run) -> Figure:
    """Readout against target per layer: first epoch, last epoch, and after training (lr = 0)."""
    res, epochs = run.results, run.epochs
    fig, axes = _figure(3, 1, (9, 8), sharex=True)
    t = _time(run, res["layer1_y"].shape[1])
    for k, ax in zip(LAYERS, axes):
        y = res[f"layer{k}_y"]
        ax.plot(t, res[f"layer{k}_target"], "k--", lw=1.5, label="target")
        ax.plot(t, y[0], lw=0.8, alpha=0.7, label="epoch 1 (learning, dropout)")
        ax.plot(t, y[epochs - 1], lw=0.8, label=f"epoch {epochs} (learning, dropout)")
        ax.plot(t, y[-1], lw=1.2, label="after training (lr 0, no dropout)")
        ax.set_ylabel(f"layer {k} readout")
    axes[0].legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle(f"Local readouts before and after training ({SYNTHETIC})")
    return fig


def learning_curves(run) -> Figure:
    """Loss and normalised MSE per epoch per layer (the training epochs only, not the lr-0 one)."""
    res, epochs = run.results, run.epochs
    x = np.arange(1, epochs + 1)
    fig, axes = _figure(1, 2, (11, 4))
    for k in LAYERS:
        axes[0].plot(x, res[f"layer{k}_loss"][:epochs].mean(axis=1), label=f"layer {k}")
        axes[1].plot(x, res[f"layer{k}_nmse"][:epochs], label=f"layer {k}")
    axes[0].set_ylabel("smooth-L1 loss per step")
    axes[1].set_ylabel("MSE / variance of target")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.legend()
    fig.suptitle(f"Learning curves ({SYNTHETIC})")
    return fig


def raster(run) -> Figure:
    """Spikes of all neurons of the input and the three layers after training, with mean rates."""
    res = run.results
    fig, axes = _figure(4, 1, (10, 9), sharex=True)
    _raster(axes[0], run, res["input_spikes"])
    axes[0].set_ylabel("input")
    for k, ax in zip(LAYERS, axes[1:]):
        spikes = res[f"layer{k}_spikes"]
        _raster(ax, run, spikes, color=f"C{k - 1}")
        ax.set_ylabel(f"layer {k}\n{spikes.mean() * 1000 / run.dt_ms:.1f} Hz")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle(f"Rasters after training, lr 0 ({SYNTHETIC})")
    return fig


# (file name stem, function): the stems are the file names the study has always written
FIGURES = (("states", states), ("readouts", readouts), ("learning_curves", learning_curves), ("raster", raster))


def figures(out_dir) -> dict[str, Figure]:
    """Every figure of the folder, by file name stem."""
    run = load(out_dir)
    return {stem: draw(run) for stem, draw in FIGURES}


def plot_all(out_dir) -> list[Path]:
    """figures() saved as PNGs in out_dir; returns the written paths."""
    return [save(fig, Path(out_dir) / f"{stem}.png") for stem, fig in figures(out_dir).items()]


def save(fig, path) -> Path:
    fig.savefig(path, dpi=DPI)
    return Path(path)


if __name__ == "__main__":
    from brian_decolle.figures import main

    raise SystemExit(main())
