"""One configuration's start values as the run_args of another configuration's compiled build.

Configurations that differ only in values (a seed, a learning rate, an input rate) generate the
same code: only the numbers the builder draws and sets differ. This module builds a network on
Brian2's runtime device without running it (cheap: no code is generated), reads every value it
starts with (the parameters and state variables its equations declare, and its TimedArrays), and
gives them, matched by object name, to a compiled standalone build of the other configuration;
Brian2 applies run_args right before the first run, after every value set in the code, so the
re-run starts exactly where a fresh build of this configuration would. Namespace constants are
frozen into the code: :func:`structure` compares them (with the equations, code, sizes and
schedule) and a network whose structure differs is refused, never re-run with wrong code.
"""
from __future__ import annotations

import contextlib

import brian2 as b2
from brian2.devices.device import reset_device
import numpy as np

from .checks import ConfigError


@contextlib.contextmanager
def on_runtime():
    """Brian2's runtime device (numpy target: nothing compiles) for a while, then the device before
    it again, as it was: no reinit, so a compiled build stays usable for more runs. Networks built
    here are never run: Brian2's warning about objects never run is off meanwhile."""
    target, warn = b2.prefs.codegen.target, b2.prefs.logging.warn_for_unused_objects
    b2.set_device("runtime")
    b2.prefs.codegen.target = "numpy"
    b2.prefs.logging.warn_for_unused_objects = False
    try:
        yield
    finally:
        reset_device()
        b2.prefs.codegen.target = target
        b2.prefs.logging.warn_for_unused_objects = warn


def _groups(network: b2.Network) -> list:
    return sorted((obj for obj in network.objects if isinstance(obj, (b2.NeuronGroup, b2.Synapses))),
                  key=lambda obj: obj.name)


def _declared(group) -> list[str]:
    """The group's own parameters and state variables that a run can be given (not linked, not read-only)."""
    names = sorted(group.equations.parameter_names | group.equations.diff_eq_names)
    return [name for name in names
            if not group.variables[name].read_only and group.variables[name].owner.name == group.name]


def start_values(network: b2.Network) -> dict:
    """Every value a (runtime, not yet run) network starts with: ('var', group, variable) -> Quantity,
    ('timedarray', group, namespace name) -> Quantity."""
    values = {}
    for group in _groups(network):
        for name in _declared(group):
            var = group.variables[name]
            values[("var", group.name, name)] = b2.Quantity(np.array(var.get_value()), dim=var.dim)
        for key, item in sorted(group.namespace.items()):
            if isinstance(item, b2.TimedArray):
                values[("timedarray", group.name, key)] = b2.Quantity(np.array(item.values), dim=item.dim)
    return values


def structure(network: b2.Network) -> list:
    """What the generated code depends on besides the values: the objects, their sizes, equations,
    events, namespace constants, the shapes of TimedArrays, and every code runner's code and slot."""
    out = []
    for obj in sorted(network.objects, key=lambda o: o.name):
        entry = [type(obj).__name__, obj.name, obj.when, obj.order, str(getattr(obj, "equations", ""))]
        if isinstance(obj, b2.NeuronGroup):
            entry += [len(obj), sorted(obj.events.items()), sorted(obj.event_codes.items())]
        if isinstance(obj, b2.StateMonitor):
            entry += [list(obj.record_variables), np.asarray(obj.record).tolist()]
        for key, item in sorted(getattr(obj, "namespace", {}).items()):
            entry.append((key, ("TimedArray", item.values.shape, float(item.dt)) if isinstance(item, b2.TimedArray)
                          else repr(item)))
        for runner in sorted(obj.contained_objects, key=lambda o: o.name):
            entry.append((runner.name, runner.when, runner.order, getattr(runner, "abstract_code", None)))
        out.append(entry)
    return out


def run_args(network: b2.Network, values: dict) -> dict:
    """``values`` (of :func:`start_values`) as run_args of ``network``, a compiled standalone build of
    the same structure: VariableView or TimedArray -> value, each once."""
    groups = {group.name: group for group in _groups(network)}
    args, shared = {}, set()
    for (kind, owner, name), value in values.items():
        group = groups.get(owner)
        if group is None:
            raise ConfigError(f"the shared build has no object {owner!r}: its structure differs")
        if kind == "var":
            args[getattr(group, name)] = value
        elif id(group.namespace[name]) not in shared:   # (one TimedArray may be read by several groups)
            shared.add(id(group.namespace[name]))
            args[group.namespace[name]] = value
    return args
