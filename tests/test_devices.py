"""Runtime and generated C++ run the same equations: identical spikes and weights."""
import dataclasses

import brian2 as b2
import numpy as np
import pytest

from brian_decolle import ConfigError, NetworkConfig, build_network, devices
from conftest import poisson


def _train(device, build_dir, spikes, targets, cfg, threads=0):
    devices.select(device, build_dir=build_dir, codegen_target="numpy", threads=threads)
    dn = build_network(cfg, spikes, targets, record_spikes=True)
    initial = None if devices.is_standalone() else [dn.get_weights(k)["w"] for k in (1, 2)]
    dn.run(seed=cfg.seed)
    devices.build()
    weights = [dn.get_weights(k) for k in (1, 2)]
    return ([dn.spikes(k) for k in (1, 2)], [w["w"] for w in weights], [w["b"] for w in weights],
            dn.readout(2), initial)


def _agreement_case(rng):
    n_steps = 250
    cfg = NetworkConfig(n_inputs=20, layer_sizes=(16, 12), readout_sizes=3, dropout=0.0, lr=5e-3,
                        weight_scale=2.0, reg_u=0.1, reg_rate=0.5, burnin_ms=20, seed=2)
    spikes = poisson(rng, n_steps, 20, 0.2)
    targets = [np.sin(np.arange(n_steps)[:, None] / 15 + np.arange(3))] * 2
    return spikes, targets, cfg


@pytest.mark.parametrize("optimiser", ["adamax", "adam"])
def test_runtime_and_cpp_standalone_agree(rng, tmp_path, optimiser):
    spikes, targets, cfg = _agreement_case(rng)
    cfg = dataclasses.replace(cfg, optimiser=optimiser)
    runtime = _train("runtime", None, spikes, targets, cfg)
    cpp = _train("cpp_standalone", tmp_path / "cpp", spikes, targets, cfg)
    devices.select("runtime", codegen_target="numpy")
    sources = {p.name: p.read_text() for p in (tmp_path / "cpp" / "code_objects").glob("*.cpp")}
    marked = {name for name, text in sources.items() if "#pragma GCC ivdep" in text}
    # the per-synapse weight updates vectorise (blocked loops: tests/test_codegen.py); a sum into one
    # presynaptic unit per row (the readout's error sent back) never is marked
    # (names may carry a suffix: the runtime run above took them first)
    assert all(any(name.startswith(f"decolle_layer{k}_synapses_w_update_codeobject") for name in marked)
               for k in (1, 2)), marked
    assert not any("summed_variable_m_pre" in name for name in marked), marked
    for a, b in zip(runtime[0], cpp[0]):
        assert a.sum() > 20 and np.array_equal(a, b)
    for part in (1, 2):
        for a, b in zip(runtime[part], cpp[part]):
            assert np.max(np.abs(a - b)) <= 1e-9
    assert np.max(np.abs(runtime[3] - cpp[3])) <= 1e-9
    for initial, final in zip(runtime[4], runtime[1]):
        assert np.max(np.abs(final - initial)) > 1e-3, "learning must have moved the weights"


def test_only_loops_writing_their_own_synapses_are_marked(tmp_path):
    """A synapse loop that writes a postsynaptic variable may have two synapses write one
    neuron: it must stay unmarked (scalar)."""
    devices.select("cpp_standalone", build_dir=tmp_path / "cpp")
    group = b2.NeuronGroup(3, "x : 1", name="cells")
    syn = b2.Synapses(group, group, "w : 1", name="links")
    syn.connect()
    syn.run_regularly("x_post = w", name="writes_post")
    syn.run_regularly("w = 0.5*w", name="writes_own")
    b2.Network(group, syn).run(1 * b2.ms)
    devices.build(compile=False, run=False)
    devices.select("runtime", codegen_target="numpy")
    code = {name: (tmp_path / "cpp" / "code_objects" / f"{name}_codeobject.cpp").read_text()
            for name in ("writes_post", "writes_own")}
    assert "ivdep" in code["writes_own"] and "ivdep" not in code["writes_post"]


def test_loops_in_an_unknown_form_draw_a_warning(tmp_path, monkeypatch):
    """If Brian2's per-synapse loop is not the text mark_independent_loops reads (another Brian2
    version), the build says so, naming Brian2's version, instead of running slower in silence."""
    monkeypatch.setattr(devices, "_ELEMENT_LOOP", "for(size_t _idx=0; _idx<_N; _idx++)")
    devices.select("cpp_standalone", build_dir=tmp_path / "cpp")
    group = b2.NeuronGroup(3, "x : 1", name="cells")
    syn = b2.Synapses(group, group, "w : 1", name="links")
    syn.connect()
    syn.run_regularly("w = 0.5*w", name="writes_own")
    b2.Network(group, syn).run(1 * b2.ms)
    with pytest.warns(RuntimeWarning, match=f"Brian2 {b2.__version__}.*writes_own"):
        devices.build(compile=False, run=False)


def test_two_openmp_threads_agree_with_one(rng, tmp_path):
    """OpenMP threads split the loops (the weight updates by rows of synapses); the spikes and
    weights are those of one thread."""
    spikes, targets, cfg = _agreement_case(rng)
    one = _train("cpp_standalone", tmp_path / "one", spikes, targets, cfg)
    two = _train("cpp_standalone", tmp_path / "two", spikes, targets, cfg, threads=2)
    devices.select("runtime", codegen_target="numpy")
    updates = [p.read_text() for p in (tmp_path / "two" / "code_objects").glob("decolle_layer*_synapses_w_update*.cpp")]
    # (blocked loops, tests/test_codegen.py: rows split between the threads, each row vectorised)
    assert len(updates) == 2 and all("#pragma omp parallel for" in text and "#pragma GCC ivdep" in text
                                     for text in updates)
    for a, b in zip(one[0], two[0]):
        assert a.sum() > 20 and np.array_equal(a, b)
    for part in (1, 2):
        for a, b in zip(one[part], two[part]):
            assert np.max(np.abs(a - b)) <= 1e-9


def test_cuda_standalone_code_holds_the_plasticity_kernels(rng, tmp_path):
    """Without a GPU (CI), brian2cuda still generates the CUDA project of the dense network."""
    cfg = NetworkConfig(n_inputs=10, layer_sizes=(8, 6), readout_sizes=2, reg_rate=0.1)
    devices.select("cuda_standalone", build_dir=tmp_path / "cuda")
    dn = build_network(cfg, poisson(rng, 50, 10), [np.zeros((50, 2))] * 2)
    dn.run(seed=cfg.seed)
    devices.build(compile=False, run=False)
    devices.select("runtime", codegen_target="numpy")
    sources = {p.name: p.read_text() for p in (tmp_path / "cuda" / "code_objects").glob("*.cu")}
    for k in (1, 2):
        update = [text for name, text in sources.items() if name.startswith(f"decolle_layer{k}_synapses_w_update")]
        assert update, sorted(sources)
        assert "__global__" in update[0] and "_ptr_array_decolle_layer" in update[0] and "norm" in update[0]
        assert any(name.startswith(f"decolle_layer{k}_readout_synapses_summed_variable_m_pre") for name in sources)
        assert any(name.startswith(f"decolle_layer{k}_error") for name in sources)
        assert any(name.startswith(f"decolle_layer{k}_b_update") for name in sources)


@pytest.mark.parametrize("device, source", [("cpp_standalone", "*.cpp"), ("cuda_standalone", "*.cu")])
def test_two_standalone_projects_live_side_by_side(rng, tmp_path, device, source):
    """Each standalone build gets a device of its own: a second build leaves the first one's project
    and device as they were, and activate() makes the first current again with its own folder
    (brian2cuda's device class too; code generation only, no compiler needed)."""
    cfg = NetworkConfig(n_inputs=6, layer_sizes=(5,), readout_sizes=2)
    built = {}
    for name, plastic in (("train", True), ("test", False)):
        devices.select(device, build_dir=tmp_path / name)
        dn = build_network(cfg, poisson(rng, 20, 6), [np.zeros((20, 2))], plastic=plastic)
        dn.run(learn=plastic, seed=cfg.seed)
        devices.build(compile=False, run=False)
        built[name] = b2.get_device()
    assert built["train"] is not built["test"] and type(built["train"]) is type(built["test"])
    devices.activate(built["train"])
    assert b2.get_device() is built["train"] and b2.device.build_options["directory"] == str(tmp_path / "train")
    codes = {name: {p.name for p in (tmp_path / name / "code_objects").glob(source)} for name in built}
    devices.select("runtime", codegen_target="numpy")
    assert any("w_update" in name for name in codes["train"]) and not any("w_update" in name for name in codes["test"])
    # (reinit, as before, would have emptied the first device)
    assert any("w_update" in name for name in built["train"].code_objects)


def test_many_samples_one_compilation(rng, tmp_path, monkeypatch):
    """Training on N samples back to back compiles the C++ project exactly once, and each
    sample is still treated as its own (same input -> same states, learning off)."""
    from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

    compiled = []
    original = CPPStandaloneDevice.compile_source

    def counting(self, *args, **kwargs):
        compiled.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CPPStandaloneDevice, "compile_source", counting)
    n, samples = 60, 5
    cfg = NetworkConfig(n_inputs=12, layer_sizes=(10,), readout_sizes=2, weight_scale=3.0, dropout=0.0)
    one = poisson(rng, n, 12, 0.3)
    devices.select("cpp_standalone", build_dir=tmp_path / "cpp")
    dn = build_network(cfg, np.tile(one, (samples, 1)), [np.ones((n * samples, 2))], sample_steps=n,
                       record_state=("u",))
    dn.run(learn=False, seed=cfg.seed)
    devices.build()
    u = dn.state(1, "u").reshape(samples, n, -1)
    devices.select("runtime", codegen_target="numpy")
    assert len(compiled) == 1
    assert np.abs(u).max() > 0
    for k in range(1, samples):
        assert np.array_equal(u[k], u[0])


@pytest.mark.skipif(devices.has_gpu(), reason="a GPU machine runs CUDA for real (benchmarks/gpu.sh)")
def test_cuda_run_without_gpu_is_a_clear_error(tmp_path):
    """Where there is no GPU (CI), asking to run on CUDA says so instead of failing inside Brian2."""
    cfg = NetworkConfig(n_inputs=3, layer_sizes=(2,), readout_sizes=1)
    devices.select("cuda_standalone", build_dir=tmp_path / "cuda")
    dn = build_network(cfg, np.zeros((5, 3)), [np.zeros((5, 1))])
    dn.run(seed=cfg.seed)
    with pytest.raises(ConfigError, match="needs an NVIDIA GPU"):
        devices.build()
    devices.select("runtime", codegen_target="numpy")


def test_statements_are_made_without_brian2s_cache():
    """Selecting a target makes Brian2 translate code blocks without its make_statements cache, whose keys
    (the hashed variables dict of every block) cost two thirds of a runtime-device run, more than the
    translations they save; the translation is the same function."""
    from brian2.codegen import translation
    from brian2.codegen.generators import base
    devices.select("runtime", codegen_target="numpy")
    assert not hasattr(translation.make_statements, "__wrapped__") and base.make_statements is translation.make_statements
    assert translation.make_statements.__name__ == "make_statements"
