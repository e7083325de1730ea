"""Loading decolle-public state dicts without torch (brian_decolle.decolle_public).

The fixtures in tests/data were written by decolle 0.2 and torch 2.13 (make_decolle_checkpoint.py,
run in the reference venv); decolle_reference.npz holds their tensors, inputs and decolle's forward.
"""
import io
import os
import pickle
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from brian_decolle import ConvLayer, NetworkConfig, build_network
from brian_decolle.config import ConfigError
from brian_decolle.decolle_public import (
    config_from_state_dict,
    load_weights,
    read_state_dict,
    to_brian_decolle,
)

DATA = Path(__file__).resolve().parent / "data"
FILES = {"dense": "decolle_dense.pt", "conv": "decolle_conv_checkpoint.tar", "output": "decolle_output.pt",
         "tensors": "tensors.pt"}
# decolle's defaults of the fixtures (alpha .97, beta .92, alpharp .65, wrp 1) are this project's defaults
CONFIGS = {
    "dense": NetworkConfig(n_inputs=12, layer_sizes=(10, 8), readout_sizes=3, lr=0.0),
    # LenetDECOLLE pads (kernel - 1) // 2
    "conv": NetworkConfig(n_inputs=72, input_shape=(2, 6, 6), conv_layers=(ConvLayer(2, kernel=3, padding=1, pool=2),),
                          layer_sizes=(4,), readout_sizes=3, lr=0.0),
    "output": NetworkConfig(n_inputs=12, layer_sizes=(10, 3), readout_sizes=3, output_layer=True, lr=0.0),
}


@pytest.fixture(scope="module")
def reference():
    with np.load(DATA / "decolle_reference.npz") as ref:
        return {key: ref[key] for key in ref.files}


def tensors_of(reference, name):
    prefix = f"{name}/"
    keys = [k[len(prefix):] for k in reference if k.startswith(prefix)]
    if name != "tensors":  # the npz also holds spikes and the forward of the networks
        keys = [k for k in keys if "." in k]
    return {k: reference[prefix + k] for k in keys}


@pytest.mark.parametrize("name", list(FILES))
def test_read_state_dict_equals_torch_tensors(reference, name):
    """Every dtype, a transposed view and a view with a storage offset, bit for bit; the
    save_checkpoint file gives its 'model_state_dict'."""
    state = read_state_dict(DATA / FILES[name])
    expected = tensors_of(reference, name)
    assert sorted(state) == sorted(expected)
    for key, value in expected.items():
        assert state[key].dtype == value.dtype and state[key].shape == value.shape, key
        assert np.array_equal(state[key], value), key


def test_to_brian_decolle_names_and_layouts(reference):
    state = read_state_dict(DATA / FILES["conv"])
    weights = to_brian_decolle(state, CONFIGS["conv"])
    assert {k: v.shape for k, v in weights.items()} == {
        "layer1_w": (2, 2, 3, 3), "layer1_b": (2,), "layer1_g": (3, 18), "layer1_c": (3,),
        "layer2_w": (4, 18), "layer2_b": (4,), "layer2_g": (3, 4), "layer2_c": (3,)}
    assert np.array_equal(weights["layer1_w"], state["LIF_layers.0.base_layer.weight"])
    assert np.array_equal(weights["layer2_g"], state["readout_layers.1.weight"])
    assert all(v.dtype == np.float64 for v in weights.values())
    # the output layer's readout is the identity: no g, c
    out = to_brian_decolle(read_state_dict(DATA / FILES["output"]), CONFIGS["output"])
    assert sorted(out) == ["layer1_b", "layer1_c", "layer1_g", "layer1_w", "layer2_b", "layer2_w"]


@pytest.mark.parametrize("name", ["dense", "conv", "output"])
def test_forward_equals_decolle(reference, name):
    """With decolle's weights, u (after the pool) and the readouts equal decolle's forward on the
    same input, step for step with no offset, and every spike agrees."""
    cfg = CONFIGS[name]
    spikes = reference[f"{name}/spikes"].astype(float)
    targets = [np.zeros((len(spikes), spec.readout_size)) for spec in cfg.layers]
    dn = build_network(cfg, spikes, targets, record_state=("u",), record_readout=("y",))
    weights = to_brian_decolle(read_state_dict(DATA / FILES[name]), cfg)
    load_weights(dn, weights)
    dn.run(learn=False)
    for k in range(1, cfg.n_layers + 1):
        u, y = dn.state(k, "u"), dn.readout(k, "y")
        ref_u, ref_y = reference[f"{name}/u{k}"], reference[f"{name}/r{k}"]
        assert (ref_u > 0).sum() >= 10, "the fixture's layers must spike for the test to mean anything"
        assert np.array_equal(u > 0, ref_u > 0), f"layer {k} spikes differ"
        # the reference is stored in float32
        assert np.max(np.abs(u - ref_u)) <= 1e-6 * max(1.0, np.abs(ref_u).max()), k
        assert np.max(np.abs(y - ref_y)) <= 1e-6 * max(1.0, np.abs(ref_y).max()), k
    for k in range(1, cfg.n_layers + 1):
        if not cfg.layers[k - 1].is_output:  # (get_weights cannot read the output layer's identity readout)
            for part, value in dn.get_weights(k).items():
                assert np.array_equal(value, weights[f"layer{k}_{part}"]), (k, part)


# ---- bad files -----------------------------------------------------------------------------------

def test_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"a": 1}))  # a bare pickle, as torch < 1.6 wrote
    with pytest.raises(ConfigError, match="not a torch >= 1.6 zip"):
        read_state_dict(path)


class _System:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _zip(path, pickled, records=(), byteorder="little"):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/byteorder", byteorder)
        for key, raw in records:
            archive.writestr(f"archive/data/{key}", raw)
    return path


def test_a_pickle_naming_another_callable_is_refused_unrun(tmp_path):
    sentinel = tmp_path / "ran"
    path = _zip(tmp_path / "evil.pt", pickle.dumps({"w": _System(f"touch {sentinel}")}, protocol=2))
    with pytest.raises(ConfigError, match=r"asks for '(posix|os|nt)\.system', which is refused.*allowed: "
                                          r"collections\.OrderedDict"):
        read_state_dict(path)
    assert not sentinel.exists()


# A stand-in for torch while pickling, so that the tests write torch's format without torch: pickle
# names a function by its module and name, and these modules answer to torch's.
class _Storage:
    def __init__(self, kind, key, numel):
        self.kind, self.key, self.numel = kind, key, numel


@pytest.fixture
def fake_torch(monkeypatch):
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for kind in ("FloatStorage", "DoubleStorage", "LongStorage"):
        setattr(torch, kind, type(kind, (), {"__module__": "torch"}))
    torch._utils = utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Tensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride, False, OrderedDict())

        def __reduce__(self):
            return utils._rebuild_tensor_v2, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _Storage):
                return "storage", getattr(torch, obj.kind), obj.key, "cpu", obj.numel
            return None

    def dumps(obj):
        out = io.BytesIO()
        Pickler(out, protocol=2).dump(obj)
        return out.getvalue()

    return types.SimpleNamespace(Tensor=Tensor, dumps=dumps)


def test_the_fake_torch_writer_reads_back(tmp_path, fake_torch):
    """The writer of the next tests makes files the reader accepts, big-endian ones included."""
    raw = np.arange(6, dtype=">f8").tobytes()
    state = OrderedDict(w=fake_torch.Tensor(_Storage("DoubleStorage", "0", 6), 1, (2, 2), (1, 2)))
    path = _zip(tmp_path / "ok.pt", fake_torch.dumps(state), [("0", raw)], byteorder="big")
    assert np.array_equal(read_state_dict(path)["w"], np.array([[1.0, 3.0], [2.0, 4.0]]))


@pytest.mark.parametrize("offset,size,stride,numel,message", [
    (0, (3, 3), (3, 1), 6, "reaches element 8 of a storage of 6"),   # would read past the storage
    (0, (2,), (-1,), 6, "invalid layout"),
    (0, (2, 3), (3, 1), 7, "holds 6 FloatStorage elements, the pickle says 7"),
])
def test_bad_tensor_layouts_are_refused(tmp_path, fake_torch, offset, size, stride, numel, message):
    state = OrderedDict(w=fake_torch.Tensor(_Storage("FloatStorage", "0", numel), offset, size, stride))
    path = _zip(tmp_path / "bad.pt", fake_torch.dumps(state), [("0", np.zeros(6, "<f4").tobytes())])
    with pytest.raises(ConfigError, match=message):
        read_state_dict(path)


def test_missing_storage_and_non_tensor_entries_are_refused(tmp_path, fake_torch):
    state = OrderedDict(w=fake_torch.Tensor(_Storage("LongStorage", "3", 2), 0, (2,), (1,)))
    with pytest.raises(ConfigError, match="lacks the storage record 'archive/data/3'"):
        read_state_dict(_zip(tmp_path / "a.pt", fake_torch.dumps(state)))
    with pytest.raises(ConfigError, match="entry 'epoch' is a int, not a tensor"):
        read_state_dict(_zip(tmp_path / "b.pt", fake_torch.dumps({"epoch": 3})))
    with pytest.raises(ConfigError, match="its pickle cannot be read as a torch state dict"):
        read_state_dict(_zip(tmp_path / "c.pt", fake_torch.dumps({"epoch": 3})[:-3]))  # truncated


# ---- a state dict that does not fit the configuration ---------------------------------------------

@pytest.fixture(scope="module")
def dense_state():
    return read_state_dict(DATA / FILES["dense"])


def test_wrong_shape_names_key_and_shapes(dense_state):
    cfg = NetworkConfig(n_inputs=12, layer_sizes=(9, 8), readout_sizes=3)
    with pytest.raises(ConfigError, match=r"LIF_layers\.0\.base_layer\.weight has shape \(10, 12\); "
                                          r"layer 1 of cfg expects \(9, 12\)"):
        to_brian_decolle(dense_state, cfg)


def test_missing_and_unexpected_keys_are_named(dense_state):
    short = {k: v for k, v in dense_state.items() if k != "readout_layers.1.weight"}
    with pytest.raises(ConfigError, match=r"lacks readout_layers\.1\.weight"):
        to_brian_decolle(short, CONFIGS["dense"])
    with pytest.raises(ConfigError, match=r"LIF_layers\.1\.base_layer\.bias.*cfg has bias=False"):
        to_brian_decolle(dense_state, NetworkConfig(n_inputs=12, layer_sizes=(10, 8), readout_sizes=3,
                                                    bias=(True, False)))
    with pytest.raises(ConfigError, match=r"holds LIF_layers\.2\.base_layer\.weight"):
        to_brian_decolle({**dense_state, "LIF_layers.2.base_layer.weight": np.zeros((3, 8))}, CONFIGS["dense"])


def test_time_constants_must_match(dense_state):
    cfg = NetworkConfig(n_inputs=12, layer_sizes=(10, 8), readout_sizes=3, alpha=0.9)
    with pytest.raises(ConfigError, match=r"LIF_layers\.0\.tau_m=33\.3.* means alpha=0\.97 .* cfg has alpha=0\.9"):
        to_brian_decolle(dense_state, cfg)
    assert "layer1_w" in to_brian_decolle(dense_state, cfg, check_time_constants=False)


def test_readout_without_bias_gives_zero_c(dense_state):
    state = {k: v for k, v in dense_state.items() if k != "readout_layers.0.bias"}
    assert np.array_equal(to_brian_decolle(state, CONFIGS["dense"])["layer1_c"], np.zeros(3))


def test_load_weights_wants_exactly_the_networks_weights(dense_state):
    cfg = CONFIGS["dense"]
    dn = build_network(cfg, np.zeros((2, 12)), [np.zeros((2, 3))] * 2)
    weights = to_brian_decolle(dense_state, cfg)
    del weights["layer2_g"]
    with pytest.raises(ConfigError, match=r"missing: \['layer2_g'\]"):
        load_weights(dn, weights)


@pytest.mark.parametrize("name,given", [("dense", {}), ("conv", {"input_shape": (2, 6, 6), "pool": (2,)}),
                                        ("output", {})])
def test_config_from_state_dict(name, given):
    cfg = config_from_state_dict(read_state_dict(DATA / FILES[name]), lr=0.0, **given)
    expected = CONFIGS[name]
    assert cfg.layers == expected.layers
    assert (cfg.n_inputs, cfg.input_shape, cfg.output_layer) == (expected.n_inputs, expected.input_shape,
                                                                  expected.output_layer)
    assert (cfg.alpha, cfg.alpha_s) == (0.97, 0.92)


def test_config_from_state_dict_needs_the_input_shape_of_conv_layers():
    with pytest.raises(ConfigError, match="input_shape"):
        config_from_state_dict(read_state_dict(DATA / FILES["conv"]))
