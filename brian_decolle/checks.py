"""The package's error and the validators of single values, shared by every module.

:class:`ConfigError` is raised for any value the model, a study or the command line cannot use;
each ``check_*`` checks one value and names the parameter, its value and what is allowed.
This module imports nothing of the package, so that any module can import it.
"""
from __future__ import annotations

import math


class ConfigError(ValueError):
    """A parameter has a value the model cannot use."""


def check_choice(name: str, value, allowed) -> None:
    """One of the allowed values."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, allowed))}")


def check_positive(name: str, value) -> None:
    """A finite number > 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name}={value!r} must be a positive number")


def check_finite(name: str, value) -> None:
    """A finite number (of either sign)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"{name}={value!r} must be a finite number")


def check_non_negative(name: str, value) -> None:
    """A finite number >= 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}={value!r} must be a number >= 0")


def check_decay(name: str, value) -> None:
    """A decay per step, exp(-dt/tau): in (0, 1)."""
    if not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{name}={value!r} must lie in (0, 1): it is exp(-dt/tau) for a positive tau")


def check_index(name: str, value) -> None:
    """An integer >= 0 (a seed, a padding)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"{name}={value!r} must be an integer >= 0")


def check_count(name: str, value) -> None:
    """An integer >= 1 (a size, a number of samples)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name}={value!r} must be a positive integer")


def check_bool(name: str, value) -> None:
    """True or False."""
    if not isinstance(value, bool):
        raise ConfigError(f"{name}={value!r} must be True or False")


def per_layer(name: str, value, n_layers: int, check, kinds=(int, float)) -> tuple:
    """One value for every layer, or one per layer: a tuple of n_layers checked values."""
    if isinstance(value, kinds) and not isinstance(value, (tuple, list)):
        value = (value,) * n_layers
    elif isinstance(value, (tuple, list)) and len(value) == 1:
        value = tuple(value) * n_layers
    if not isinstance(value, (tuple, list)) or len(value) != n_layers:
        raise ConfigError(f"{name}={value!r} must be one value or one per layer ({n_layers} layers: conv_layers "
                          "then layer_sizes)")
    for k, v in enumerate(value):
        check(f"{name}[{k}]", v)
    return tuple(value)
