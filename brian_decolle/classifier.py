"""The online classifier: one DECOLLE network, built once, run on chunk after chunk of
labelled samples.

On standalone devices the network is compiled ONCE and then re-run
(``DecolleNetwork.run_again``) with new inputs, targets, sample boundaries,
weights, learning rate and dropout seed; on the runtime device, where a network
cannot restart at t = 0, each run builds it anew with the same settings. A
standalone classifier keeps the Brian2 device that holds its build and makes it
current before each run, so that several classifiers (a training build and a
test-only build) live side by side in one process. A run returns the readouts,
the learned state, a short recording of layer 1 and, per layer, the spike
counts and membrane sums that health and initialisation use.

A compiled build can also serve other configurations of the same structure
(:meth:`OnlineClassifier.adopt`, :class:`SharedBuild`): a sweep compiles one per
group of configurations that differ only in values.
"""
from __future__ import annotations

import copy
import gc
import time
from typing import Callable, Protocol

import brian2 as b2
import numpy as np

from . import devices, progress, runargs
from .build import SCHEDULE
from .checks import ConfigError
from .config import NetworkConfig
from .network import build_network


class SampleSource(Protocol):
    """Labelled spike trains: (n_steps, n_inputs) event counts and a class. A source may also
    hold out validation samples (n_validation > 0, validation_sample) for the intermediate
    evaluations, so that the test set is used once, at the end."""

    n_classes: int
    n_train: int
    n_test: int

    def train_sample(self, index: int, n_steps: int, seed: int) -> tuple[np.ndarray, int]: ...

    def test_sample(self, index: int, n_steps: int) -> tuple[np.ndarray, int]: ...


def votes(y: np.ndarray, burnin: int) -> np.ndarray:
    """Class per sample: majority over the steps after burn-in of the readout's argmax.
    y: (steps, samples, classes) -> (samples,)."""
    winners = np.argmax(y[burnin:], axis=-1)
    n_classes = y.shape[-1]
    counts = np.stack([(winners == c).sum(axis=0) for c in range(n_classes)], axis=-1)
    return np.argmax(counts, axis=-1)


class OnlineClassifier:
    """One DECOLLE network, built once, run on chunk after chunk of labelled samples."""

    def __init__(self, cfg: NetworkConfig, n_classes: int, run_steps: int, *,
                 target: devices.Target = devices.Target(), n_raster: int = 32, n_membrane: int = 5,
                 plastic: bool = True):
        """plastic=False: a network for testing only (no code of the rule; runs with learn=False)."""
        for spec in cfg.layers:
            if spec.readout_size != n_classes:
                raise ConfigError(f"readout_sizes[{spec.index - 1}]={spec.readout_size} must equal the number "
                                  f"of classes ({n_classes})")
        self.cfg, self.n_classes, self.run_steps = cfg, n_classes, run_steps
        self.target, self.plastic = target, plastic
        self._compiled = None   # (structure, start values) of the compiled configuration, once adopt needs them
        # recorded layer-1 membranes: the centre unit of each of the first n_membrane channels, where
        # an image's centre drives them (corner units of a digit never see a spike), one per channel
        # so that one silent channel cannot blank the figure; the raster shows, after the run, the
        # n_raster most active units of replica 0, and beside them n_raster units drawn at random
        # (fixed by the seed), which show the population rather than its busiest corner
        first = cfg.layers[0]
        c, h, w = first.output_shape
        centre = (h // 2) * w + w // 2
        self.membrane_units = [(k % c) * h * w + (centre + k // c) % (h * w)
                               for k in range(min(n_membrane, first.n_outputs))]
        self.n_raster = min(n_raster, first.n_outputs)
        self.random_units = np.sort(np.random.default_rng([cfg.seed, 31]).choice(
            first.n_outputs, self.n_raster, replace=False))
        target.select()
        self._build(*self._blank(run_steps))
        self.device = None   # standalone: the Brian2 device holding this build
        if target.device != "runtime":
            self.dn.run(seed=cfg.seed, learn=plastic)
            devices.build(run=False)
            self.device = b2.get_device()

    def _blank(self, n_steps):
        cfg = self.cfg
        return (np.zeros((n_steps, cfg.batch * cfg.n_inputs)),
                [np.zeros((n_steps, cfg.batch * self.n_classes))] * cfg.n_layers, np.zeros(n_steps))

    def _build(self, spikes, targets, starts):
        self.dn = None
        gc.collect()  # the previous chunk's objects hold the names this build reuses
        dn = build_network(self.cfg, spikes, targets, sample_starts=starts, record_readout=("y",), statistics=True,
                           plastic=self.plastic, count_operations=True, name="decolle")
        out = dn.layers[0].output
        # (the whole group: Brian2 cannot take subgroups of a group with linked variables)
        self.raster = b2.SpikeMonitor(out, name="decolle_raster")
        when, order = SCHEDULE["monitors"]
        self.membrane = b2.StateMonitor(out, "u", record=self.membrane_units, when=when, order=order,
                                        clock=dn.inputs.clock, name="decolle_membrane")
        # per unit spike counts of every layer, without the spikes themselves
        self.counters = [b2.SpikeMonitor(layer.output, record=False, name=f"{layer.output.name}_count")
                         for layer in dn.layers]
        dn.network.add(self.raster, self.membrane, *self.counters)
        self.dn = dn

    def initial_state(self) -> dict[str, np.ndarray]:
        return self.dn.learned_state(initial=True)

    def _twin(self, cfg: NetworkConfig) -> tuple[list, dict, dict]:
        """The structure, start values and initial learned state of this classifier built for ``cfg``: on
        Brian2's runtime device, never run (no code is generated)."""
        with runargs.on_runtime():
            twin = copy.copy(self)   # (its own objects: _build replaces dn, raster, membrane and counters)
            twin.cfg = cfg
            twin._build(*twin._blank(self.run_steps))
            try:
                return runargs.structure(twin.dn.network), runargs.start_values(twin.dn.network), twin.initial_state()
            finally:
                del twin
                gc.collect()   # (its Brian2 objects go now, while the runtime device is current)

    def adopt(self, cfg: NetworkConfig) -> None:
        """Run this compiled build from now on as a build of ``cfg`` would run: ``cfg`` must differ from the
        configuration it was compiled for in values only (seed, learning rate, dropout, weight scale, readout
        amplitude, regulariser weights, ...). Its network is built on the runtime device without running it;
        every start value that differs from this build's is given to each run (run_args, under the run's own
        settings), and its settings and initial learned state become this classifier's. A configuration of
        another structure (equations, code, sizes, namespace constants, schedule) is a ConfigError: it would
        need other code."""
        if self.target.device == "runtime":
            raise ConfigError("adopt re-runs a compiled standalone build; on the runtime device build a classifier "
                              "of the configuration instead")
        if self._compiled is None:   # what the build itself starts with, measured the same way
            self._compiled = self._twin(self.cfg)[:2]
        shape, built = self._compiled
        twin_shape, values, initial = self._twin(cfg)
        if twin_shape != shape:
            raise ConfigError("the configuration does not have the shared build's structure: a setting taken for a "
                              "run-time value changes the generated code")
        changed = {key: value for key, value in values.items() if not np.array_equal(value, built[key])}
        self.cfg = self.dn.cfg = cfg
        for layer, spec in zip(self.dn.layers, cfg.layers):
            layer.spec = spec   # (parameter_values reads each layer's dropout there)
        self.dn.initial_values = initial
        self.dn.start_args = runargs.run_args(self.dn.network, changed)

    def run(self, spikes, labels, starts, state, *, learn: bool, seed: int, lr: float | None = None):
        """One run: spikes (run_steps, B*n_inputs); labels (run_steps, B) the class per step
        (-1: no target); starts (run_steps,) 1 where a sample begins; lr: this run's learning
        rate (default the network's). Returns the readouts (layers, run_steps, B, classes), the
        learned state afterwards, the layer-1 recordings and the per-layer activity (spike counts
        of the output units, membrane sums of the neurons, whether input reached each output unit, and the
        run's synaptic work ``operations``,
        None where a run of a plastic build does not learn)."""
        cfg = self.cfg
        targets = np.zeros((self.run_steps, cfg.batch, self.n_classes))
        rows, cols = np.nonzero(labels >= 0)
        targets[rows, cols, labels[rows, cols]] = 1.0
        targets = [targets.reshape(self.run_steps, -1)] * cfg.n_layers
        if self.target.device == "runtime":
            # Brian2's runtime cannot restart a network at t = 0: a new one, with the same settings
            self.target.select()
            self._build(spikes, targets, starts)
            self.dn.run(learn=learn, lr=lr, state=state, seed=seed)
        else:
            devices.activate(self.device)   # (another build may have run since: results are read through it)
            self.dn.run_again(seed=seed, learn=learn, lr=lr, state=state, spikes=spikes, targets=targets,
                              sample_starts=starts)
        dn = self.dn
        y = np.stack([dn.readout(k, "y").reshape(self.run_steps, cfg.batch, self.n_classes)
                      for k in range(1, cfg.n_layers + 1)])
        # (the build counts the phase it was compiled for: a plastic one learning, a test-only one testing)
        work = dn.synaptic_operations(self.run_steps, learning=learn) if learn or not self.plastic else None
        activity = []
        for k, counter in enumerate(self.counters, start=1):
            sums = dn.membrane_statistics(k)
            activity.append({"counts": np.array(counter.count[:]), **sums, "reached": dn.reached(k, sums["i_abs"]),
                             "operations": None if work is None else work[k - 1]})
        counts = activity[0]["counts"][:cfg.layers[0].n_outputs]  # replica 0
        active = np.sort(np.argsort(-counts, kind="stable")[:self.n_raster])
        fired = (np.round(np.asarray(self.raster.t / b2.ms) / cfg.dt_ms).astype(int), np.asarray(self.raster.i))
        recording = {"layer1_spikes": self._raster(*fired, active), "layer1_units": active,
                     "layer1_random_spikes": self._raster(*fired, self.random_units),
                     "layer1_random_units": self.random_units,
                     "layer1_u": np.asarray(self.membrane.u).T, "layer1_u_units": np.array(self.membrane_units)}
        return y, dn.learned_state(), recording, activity

    def _raster(self, steps, spiked, units) -> np.ndarray:
        """The spikes (steps, unit indices) of the chosen layer-1 units (sorted indices): (run_steps, len(units))
        of 0/1."""
        keep = np.isin(spiked, units)
        out = np.zeros((self.run_steps, len(units)))
        out[steps[keep], np.searchsorted(units, spiked[keep])] = 1.0
        return out


class SharedBuild:
    """The compiled classifiers of many configurations of one network structure (a sweep's group): a
    training build and a test-only build (plastic=False). The first configuration asked for builds and
    compiles each; every later one re-runs them with its own values (:meth:`OnlineClassifier.adopt`).
    A failed build fails every later request too."""

    def __init__(self, target: devices.Target):
        self.target = target
        self.clfs: dict[bool, OnlineClassifier] = {}   # plastic -> its classifier
        self.made_for: tuple | None = None   # (n_classes, run_steps, n_raster) of the builds
        self.compiles, self.compile_s = 0, 0.0
        self.error: str | None = None

    def classifier(self, cfg: NetworkConfig, n_classes: int, run_steps: int, *, n_raster: int = 32,
                   plastic: bool = True, report: Callable[[str], None] | None = None) -> OnlineClassifier:
        """The shared classifier (plastic=False: the test-only one), running as a build of ``cfg`` would."""
        if self.error is not None:
            raise ConfigError(f"the shared build failed: {self.error}")
        made_for = (n_classes, run_steps, n_raster)
        if self.made_for is not None and made_for != self.made_for:
            raise ConfigError(f"(classes, run steps, raster units) {made_for} differ from the shared build's "
                              f"{self.made_for}")
        if plastic in self.clfs:
            self.clfs[plastic].adopt(cfg)
            return self.clfs[plastic]
        start = time.perf_counter()
        target = self.target if plastic else self.target.for_testing()
        what = "the network" if plastic else "a network for testing only (no plasticity)"
        try:
            with progress.building(f"{what} (once for its structure group)", target.device, report or progress.say):
                self.clfs[plastic] = OnlineClassifier(cfg, n_classes, run_steps, target=target, n_raster=n_raster,
                                                      plastic=plastic)
        except Exception as err:
            self.error = f"{type(err).__name__}: {err}"
            raise
        self.made_for = made_for
        self.compiles += 1
        self.compile_s += time.perf_counter() - start
        return self.clfs[plastic]
