"""Load a decolle-public model (its torch state dict) into the brian-decolle network of the same
architecture, without torch.

``read_state_dict`` reads a file written by ``torch.save(model.state_dict(), path)`` (the zip format
of torch >= 1.6) or by decolle.utils.save_checkpoint (a dict whose 'model_state_dict' is the model);
``to_brian_decolle`` checks it against a NetworkConfig and renames it; ``load_weights`` puts the
result into a built network; ``config_from_state_dict`` makes a NetworkConfig of its architecture.

A torch file is a pickle, and unpickling runs whatever callables the file names. The reader
therefore resolves only the names a tensor needs (see ``ALLOWED``) and refuses every other one.
"""
from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from .checks import ConfigError
from .config import ConvLayer, NetworkConfig

# torch's typed storages; the dtype of the raw bytes in archive/data/<key>
STORAGES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
ALLOWED = (["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"]
           + [f"torch.{name}" for name in STORAGES])


class _StorageType:
    """What the pickle's storage class names resolve to: a dtype, nothing callable."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """torch's tensor view of a storage, done with numpy; every index is checked to lie inside the
    storage first, because as_strided would otherwise read memory the file does not own."""
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise ConfigError("a tensor in the pickle is not built on a storage of the archive")
    try:
        offset, size, stride = int(storage_offset), tuple(int(n) for n in size), tuple(int(s) for s in stride)
    except (TypeError, ValueError):
        raise ConfigError(f"a tensor has an unreadable offset/size/stride {storage_offset!r}, {size!r}, "
                          f"{stride!r}") from None
    if len(size) != len(stride) or offset < 0 or any(n < 0 for n in size) or any(s < 0 for s in stride):
        raise ConfigError(f"a tensor has an invalid layout: offset {offset}, size {size}, stride {stride}")
    if 0 in size:
        return np.zeros(size, dtype=storage.dtype.newbyteorder("="))
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(storage):
        raise ConfigError(f"a tensor of size {size}, stride {stride}, offset {offset} reaches element {last} "
                          f"of a storage of {len(storage)}")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                           strides=[s * storage.itemsize for s in stride], writeable=False)
    return np.array(view, dtype=storage.dtype.newbyteorder("="))


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    """A state dict saved with keep_vars=True holds Parameters: only their data matters here."""
    return data


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a torch zip archive's data.pkl into numpy arrays; names outside ALLOWED are refused."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, byteorder: str):
        super().__init__(file)
        self.archive, self.prefix, self.byteorder = archive, prefix, byteorder
        self.storages = {}

    def find_class(self, module, name):
        full = f"{module}.{name}"
        if full == "collections.OrderedDict":
            return collections.OrderedDict
        if full == "torch._utils._rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if full == "torch._utils._rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGES:
            return _StorageType(name)
        raise ConfigError(f"the checkpoint's pickle asks for {full!r}, which is refused (a pickle may run any "
                          f"callable it names); allowed: {', '.join(ALLOWED)}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise ConfigError(f"the checkpoint's pickle refers to {pid!r}; only ('storage', <torch storage class>, "
                              "key, location, numel) is read")
        _, kind, key, _location, numel = pid
        key = str(key)
        if key not in self.storages:
            record = f"{self.prefix}data/{key}"
            try:
                raw = self.archive.read(record)
            except KeyError:
                raise ConfigError(f"the checkpoint lacks the storage record {record!r}") from None
            self.storages[key] = _storage_array(raw, kind.name, self.byteorder)
        storage = self.storages[key]
        if len(storage) != int(numel):
            raise ConfigError(f"storage {key!r} holds {len(storage)} {kind.name} elements, the pickle says {numel}")
        return storage


def _storage_array(raw: bytes, kind: str, byteorder: str) -> np.ndarray:
    order = "<" if byteorder == "little" else ">"
    if STORAGES[kind] == "bfloat16":  # numpy has no bfloat16: it is the top half of a float32
        half = np.frombuffer(raw, dtype=np.dtype(order + "u2"))
        return (half.astype(np.uint32) << 16).view(np.float32)
    dtype = np.dtype(STORAGES[kind]).newbyteorder(order)
    if len(raw) % dtype.itemsize:
        raise ConfigError(f"a {kind} record of {len(raw)} bytes is not a whole number of {dtype.itemsize}-byte "
                          "elements")
    return np.frombuffer(raw, dtype=dtype)


# what a damaged or foreign (but refused-nothing) pickle or zip record raises while it is read
UNREADABLE = (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, TypeError, ValueError, AttributeError,
              IndexError, KeyError, OverflowError)


def read_state_dict(path) -> dict[str, np.ndarray]:
    """The tensors of a torch state dict file as numpy arrays, by key, in the file's order.

    path: a file of ``torch.save(model.state_dict(), path)`` (torch >= 1.6 zip format), or of
    decolle.utils.save_checkpoint, whose 'model_state_dict' entry is read (the optimiser state is
    ignored). The older (torch < 1.6) format is not read; load and re-save it with torch.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise ConfigError(f"{path} is not a torch >= 1.6 zip checkpoint (torch.save's default since 1.6); "
                          "the legacy format is not read: re-save it with a recent torch")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise ConfigError(f"{path} holds {len(pickles)} '<archive>/data.pkl' records; a torch checkpoint "
                              "holds exactly one")
        prefix = pickles[0][:-len("data.pkl")]
        byteorder = "little"  # torch's default when the record is absent (files of torch < 2.1)
        if f"{prefix}byteorder" in archive.namelist():
            byteorder = archive.read(f"{prefix}byteorder").decode(errors="replace")
            if byteorder not in ("little", "big"):
                raise ConfigError(f"{path}: byteorder record {byteorder!r}; allowed: 'little', 'big'")
        try:
            obj = _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), archive, prefix, byteorder).load()
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        except UNREADABLE as exc:  # a damaged or foreign pickle: the failure is the file's
            raise ConfigError(f"{path}: its pickle cannot be read as a torch state dict ({exc!r})") from None
    if isinstance(obj, dict) and "model_state_dict" in obj:
        obj = obj["model_state_dict"]
    if not isinstance(obj, dict):
        raise ConfigError(f"{path} holds a {type(obj).__name__}, not a state dict (a dict of tensors, or "
                          "save_checkpoint's dict with 'model_state_dict')")
    for key, value in obj.items():
        if not isinstance(value, np.ndarray):
            raise ConfigError(f"{path}: state dict entry {key!r} is a {type(value).__name__}, not a tensor")
    return dict(obj)


def _expected(cfg: NetworkConfig) -> dict[str, tuple]:
    """decolle-public key -> (our layer, our name, shape) for LenetDECOLLE of cfg's architecture:
    LIF_layers.i (our layer i+1) with base_layer.weight/.bias and its time constants tau_m, tau_s,
    and readout_layers.i (none for the output layer, whose readout is the identity)."""
    out = {}
    for i, spec in enumerate(cfg.layers):
        k = spec.index
        w = (spec.channels, spec.input_shape[0], spec.kernel, spec.kernel) if spec.is_conv \
            else (spec.channels, spec.n_inputs)
        out[f"LIF_layers.{i}.base_layer.weight"] = (k, "w", w)
        if spec.bias:
            out[f"LIF_layers.{i}.base_layer.bias"] = (k, "b", (spec.channels,))
        out[f"LIF_layers.{i}.tau_m"] = (k, "tau_m", ())
        out[f"LIF_layers.{i}.tau_s"] = (k, "tau_s", ())
        if not spec.is_output:
            out[f"readout_layers.{i}.weight"] = (k, "g", (spec.readout_size, spec.n_outputs))
            out[f"readout_layers.{i}.bias"] = (k, "c", (spec.readout_size,))
    return out


def to_brian_decolle(state_dict: dict, cfg: NetworkConfig, *, check_time_constants: bool = True
                     ) -> dict[str, np.ndarray]:
    """decolle-public's LenetDECOLLE state dict as this project's per-layer weights.

    Returns, for every layer k (1-based, conv layers first, as cfg.layers), float64 arrays in the
    torch layout of ``DecolleNetwork.get_weights``: ``layer{k}_w`` ((out, in, kh, kw) or (out, in)),
    ``layer{k}_b`` (when cfg's bias is on for the layer), and the fixed readout ``layer{k}_g``
    (readout, n_outputs), ``layer{k}_c`` (readout,) except for the output layer. decolle's readout
    without a bias (LenetDECOLLE's conv readouts when with_bias=False) gives c = 0. Put them into a
    built network with ``load_weights``.

    The time constants are not learned in decolle but saved (tau = 1/(1 - alpha)); with
    check_time_constants they must equal cfg.alpha (tau_m) and cfg.alpha_s (tau_s) when cfg uses
    discrete dynamics with fixed decays. decolle's alpharp and wrp are not saved: set them in cfg.
    """
    if not isinstance(cfg, NetworkConfig):
        raise ConfigError(f"cfg must be a NetworkConfig, not {type(cfg).__name__}")
    expected = _expected(cfg)
    optional = {key for key, (_, name, _) in expected.items() if name == "c"}
    missing = [key for key in expected if key not in state_dict and key not in optional]
    if missing:
        raise ConfigError(f"the state dict lacks {', '.join(missing)}, which cfg's architecture needs "
                          f"({cfg.n_layers} layers)")
    unexpected = [key for key in state_dict if key not in expected]
    if unexpected:
        hint = "; cfg has bias=False for that layer" if any(k.endswith("base_layer.bias") for k in unexpected) else ""
        raise ConfigError(f"the state dict holds {', '.join(unexpected)}, which cfg's architecture does not "
                          f"have{hint}; expected keys: {', '.join(expected)}")
    weights = {}
    for key, (k, name, shape) in expected.items():
        if key not in state_dict:  # an optional readout bias
            weights[f"layer{k}_{name}"] = np.zeros(shape)
            continue
        value = np.asarray(state_dict[key])
        if name in ("tau_m", "tau_s"):
            _check_time_constant(key, value, cfg, name, check_time_constants)
            continue
        if value.shape != shape:
            raise ConfigError(f"{key} has shape {value.shape}; layer {k} of cfg expects {shape}")
        value = value.astype(float)
        if not np.all(np.isfinite(value)):
            raise ConfigError(f"{key} holds NaN or infinite values")
        weights[f"layer{k}_{name}"] = value
    return weights


def _check_time_constant(key, value, cfg, name, check):
    if value.size != 1:
        raise ConfigError(f"{key} has shape {value.shape}: one time constant per input (decolle's "
                          "LIFLayerVariableTau) cannot be loaded; here they are drawn at build (random_tau)")
    if not check or cfg.dynamics != "discrete" or cfg.random_tau:
        return
    param = "alpha" if name == "tau_m" else "alpha_s"
    implied = 1 - 1 / float(value.reshape(()))
    if abs(implied - getattr(cfg, param)) > 1e-5:
        raise ConfigError(f"{key}={float(value.reshape(())):.6g} means {param}={implied:.6g} in decolle, but cfg has "
                          f"{param}={getattr(cfg, param)!r}; set cfg.{param} (or check_time_constants=False)")


def config_from_state_dict(state_dict: dict, *, input_shape=None, pool=(), stride=(), **settings) -> NetworkConfig:
    """The NetworkConfig of a LenetDECOLLE state dict's architecture.

    Read from the state dict: layer kinds and sizes, conv channels and kernels, biases, readout
    sizes, the non-spiking output layer (a last layer without readout) and alpha, alpha_s (from
    tau_m, tau_s, rounded to 1e-6: decolle keeps them in float32). Not saved, so given here: the
    input_shape (channels, height, width) that conv layers need, each conv layer's pool and stride
    (default 1; padding is LenetDECOLLE's (kernel - 1) // 2), and any other NetworkConfig settings
    (alpha_r, w_rp, lr, ...), which also override what was read.
    """
    n = 0
    while f"LIF_layers.{n}.base_layer.weight" in state_dict:
        n += 1
    if n == 0:
        raise ConfigError("the state dict has no LIF_layers.0.base_layer.weight: not a decolle-public model")
    shapes = [np.shape(state_dict[f"LIF_layers.{i}.base_layer.weight"]) for i in range(n)]
    n_conv = sum(len(s) == 4 for s in shapes)
    if any(len(s) != 4 for s in shapes[:n_conv]) or any(len(s) != 2 for s in shapes[n_conv:]):
        raise ConfigError(f"LIF_layers weights have shapes {shapes}; expected conv (out, in, kh, kw) layers, "
                          "then dense (out, in) ones")
    pool, stride = tuple(pool) or (1,) * n_conv, tuple(stride) or (1,) * n_conv
    if len(pool) != n_conv or len(stride) != n_conv:
        raise ConfigError(f"pool={pool!r}, stride={stride!r}: give one value per conv layer ({n_conv}) or none")
    conv = []
    for i, (out, _, kh, kw) in enumerate(shapes[:n_conv]):
        if kh != kw:
            raise ConfigError(f"LIF_layers.{i}.base_layer.weight has a {kh}x{kw} kernel; only square kernels exist here")
        conv.append(ConvLayer(out, kernel=kh, padding=(kh - 1) // 2, pool=pool[i], stride=stride[i]))
    if conv and input_shape is None:
        raise ConfigError("input_shape=(channels, height, width) is needed with conv layers: it is not saved")
    missing = [f"readout_layers.{i}.weight" for i in range(n) if f"readout_layers.{i}.weight" not in state_dict]
    output_layer = missing == [f"readout_layers.{n - 1}.weight"] and n > n_conv  # its readout is the identity
    if missing and not output_layer:
        raise ConfigError(f"the state dict lacks {', '.join(missing)}: every layer has a readout, except a last, "
                          "dense output layer")
    readouts = [np.shape(state_dict[f"readout_layers.{i}.weight"])[0] for i in range(n - output_layer)]
    readouts += [shapes[-1][0]] if output_layer else []
    decays = {}
    for param, key in (("alpha", "tau_m"), ("alpha_s", "tau_s")):
        taus = {float(np.asarray(state_dict[f"LIF_layers.{i}.{key}"]).reshape(-1)[0])
                for i in range(n) if f"LIF_layers.{i}.{key}" in state_dict}
        values = {round(1 - 1 / tau, 6) for tau in taus}
        if len(values) > 1:
            raise ConfigError(f"LIF_layers.*.{key} differ between layers ({sorted(taus)}); one {param} serves "
                              "every layer here")
        decays.update({param: values.pop()} if values else {})
    values = dict(
        n_inputs=int(np.prod(input_shape)) if input_shape is not None else int(shapes[0][1]),
        input_shape=tuple(input_shape) if input_shape is not None else None, conv_layers=tuple(conv),
        layer_sizes=tuple(int(s[0]) for s in shapes[n_conv:]), readout_sizes=tuple(int(r) for r in readouts),
        output_layer=output_layer,
        bias=tuple(f"LIF_layers.{i}.base_layer.bias" in state_dict for i in range(n)), **decays)
    values.update(settings)
    return NetworkConfig(**values)


def load_weights(dn, weights: dict[str, np.ndarray]) -> None:
    """Put ``to_brian_decolle``'s weights into the built network dn (via set_weights: at once on
    runtime, at the next run on standalone devices). Adamax norms are left as built: decolle's
    state dict holds no optimiser state of the model."""
    names = {f"layer{spec.index}_{n}" for spec in dn.cfg.layers
             for n in ("w",) + (("b",) if spec.bias else ()) + (() if spec.is_output else ("g", "c"))}
    if set(weights) != names:
        raise ConfigError(f"weights must hold exactly {', '.join(sorted(names))} (from to_brian_decolle with "
                          f"this network's cfg); missing: {sorted(names - set(weights))}, "
                          f"unexpected: {sorted(set(weights) - names)}")
    for spec in dn.cfg.layers:
        k = spec.index
        dn.set_weights(k, **{n: weights[f"layer{k}_{n}"] for n in ("w", "b", "g", "c") if f"layer{k}_{n}" in weights})
