"""Loops generated for declared connectivity (brian_decolle/codegen.py) run the same model as Brian2's
generic loops: the same spikes and the same weights, on the studies' default networks."""
import dataclasses
import re
import subprocess

import brian2 as b2
import numpy as np
import pytest

from brian_decolle import NetworkConfig, build_network, codegen, devices, gestures, mnist, regression
from brian_decolle.codegen import Blocks, Convolution
from brian_decolle.config import ConvLayer
from brian_decolle.devices import Target
from conftest import poisson


def _run(cfg, spikes, targets, folder, loops):
    """Train once on cpp_standalone: (spikes per layer, learned state, number of blocked code objects)."""
    Target("cpp_standalone", str(folder), loops=loops).select()
    dn = build_network(cfg, spikes, targets, record_spikes=True)
    dn.run(seed=cfg.seed)
    devices.build()
    sources = {p.name: p.read_text() for p in (folder / "code_objects").glob("*.cpp")}
    result = [dn.spikes(k) for k in range(1, len(cfg.layers) + 1)], dn.learned_state(), codegen.count_blocked()
    devices.select("runtime", codegen_target="numpy")
    return (*result, sources)


def _assert_same(blocked, generic, min_spikes=20):
    for a, b in zip(blocked[0], generic[0]):
        assert a.sum() >= min_spikes and np.array_equal(a, b)
    assert blocked[1].keys() == generic[1].keys()
    for name in generic[1]:
        assert np.max(np.abs(blocked[1][name] - generic[1][name])) <= 1e-12, name


def _targets(n_steps, n_out, layers, batch=1):
    return [np.tile(np.sin(np.arange(n_steps)[:, None] / 15 + np.arange(n_out)), (1, batch))] * layers


def test_regression_network_blocked_equals_generic(rng, tmp_path):
    """The regression study's default network (100 -> 3 x 512, its SGD and regularisers), 80 steps."""
    cfg = dataclasses.replace(regression.preset().network, burnin_ms=10)
    n_steps = 80
    spikes = poisson(rng, n_steps, cfg.n_inputs, 0.2)
    targets = _targets(n_steps, 1, 3)
    blocked = _run(cfg, spikes, targets, tmp_path / "blocked", "blocked")
    generic = _run(cfg, spikes, targets, tmp_path / "generic", "generic")
    _assert_same(blocked, generic)
    # per layer: the forward sum, the weight update, the readout and its error back, the activity
    # regulariser's two sums
    assert (blocked[2], generic[2]) == (6 * 3, 0)
    for name, text in blocked[3].items():
        if name.endswith("isyn_post_codeobject.cpp") or name.endswith("w_update_codeobject.cpp"):
            main_loop = text.split("//// MAIN CODE")[1]
            assert "_synaptic_pre[" not in main_loop and "_synaptic_post[" not in main_loop, name
            assert "#pragma GCC ivdep" in main_loop, name


def test_replicas_blocked_equal_generic(rng, tmp_path):
    """Three replicas sharing their weights (kernel groups read through kidx, gradients gathered
    through oidx): the forward sums and the kernel gradients are blocked too."""
    cfg = NetworkConfig(n_inputs=20, layer_sizes=(16, 12), readout_sizes=3, batch=3, dropout=0.3, lr=5e-3,
                        weight_scale=2.0, reg_u=0.1, reg_rate=0.5, burnin_ms=20, seed=2)
    n_steps = 150
    spikes = poisson(rng, n_steps, 3 * cfg.n_inputs, 0.2)
    targets = _targets(n_steps, 3, 2, batch=3)
    blocked = _run(cfg, spikes, targets, tmp_path / "blocked", "blocked")
    generic = _run(cfg, spikes, targets, tmp_path / "generic", "generic")
    _assert_same(blocked, generic)
    assert blocked[2] == 6 * 2
    for k in (1, 2):
        # (Brian2 numbers a code object's name, ..._codeobject_1, while an object of its name from an earlier
        # test of this worker is still alive)
        text, = (text for name, text in blocked[3].items()
                 if re.fullmatch(rf"decolle_layer{k}_kernel_gradient_summed_variable_grad_post_codeobject(_\d+)?\.cpp",
                                 name))
        assert "_kidx[" not in text.split("//// MAIN CODE")[1] and "const int32_t oidx =" in text


def _conv_case(cfg, rng, n_steps, rate):
    spikes = poisson(rng, n_steps, cfg.batch * cfg.n_inputs, rate)
    return spikes, _targets(n_steps, cfg.readout_sizes if isinstance(cfg.readout_sizes, int) else 10,
                            len(cfg.layers), cfg.batch)


@pytest.mark.parametrize("study", ["mnist small", "dvs-gesture cpu", "stride 2, replicas"])
def test_convolutions_blocked_equal_generic(rng, tmp_path, study):
    """The classification studies' default networks (conv, max-pool, Adamax, dropout) and a
    strided convolution with replicas: forward sums and kernel gradients run over outputs and
    kernel entries, with the spikes and weights of Brian2's loops."""
    if study == "mnist small":
        cfg, n_steps, rate = mnist.preset("small").network, 80, 0.2
    elif study == "dvs-gesture cpu":
        cfg, n_steps, rate = gestures.preset("cpu").network, 80, 0.05
    else:
        cfg = NetworkConfig(n_inputs=2 * 9 * 9, input_shape=(2, 9, 9), layer_sizes=(), readout_sizes=4, batch=2,
                            conv_layers=(ConvLayer(3, kernel=3, padding=1, stride=2, pool=1),
                                         ConvLayer(4, kernel=3, padding=0, pool=2)),
                            weight_scale=3.0, dropout=0.2, lr=1e-2, burnin_ms=10, seed=4)
        n_steps, rate = 80, 0.3
    cfg = dataclasses.replace(cfg, burnin_ms=10.0)
    spikes, targets = _conv_case(cfg, rng, n_steps, rate)
    blocked = _run(cfg, spikes, targets, tmp_path / "blocked", "blocked")
    generic = _run(cfg, spikes, targets, tmp_path / "generic", "generic")
    _assert_same(blocked, generic, min_spikes=5)
    convolutions = [name for name, text in blocked[3].items() if "the declared convolution" in text]
    # a forward sum and a kernel gradient per layer
    assert len(convolutions) == 2 * len(cfg.layers), convolutions


@pytest.mark.parametrize("case", ["dense", "conv, stride, pool, replicas"])
def test_event_driven_pathways_blocked_equal_generic(rng, tmp_path, case):
    """Spike-driven input and error-triggered learning: each pathway (presynaptic spikes, learning events,
    the readout's error events) reads its events from the eventspace and runs over their synapses by the
    layout, without Brian2's spike queue, with the spikes and weights of Brian2's queue."""
    common = dict(readout_sizes=3, dropout=0.2, lr=0.02, optimiser="sgd", learning="error_triggered",
                  error_threshold=0.05, forward="spike_driven", weight_scale=3.0, burnin_ms=10, seed=3)
    if case == "dense":
        cfg = NetworkConfig(n_inputs=30, layer_sizes=(20, 12), **common)
    else:
        cfg = NetworkConfig(n_inputs=64, input_shape=(1, 8, 8), batch=2, layer_sizes=(5,), **common,
                            conv_layers=(ConvLayer(3, kernel=3, padding=1, pool=2), ConvLayer(2, kernel=3, stride=2)))
    n_steps = 150
    spikes = poisson(rng, n_steps, cfg.batch * cfg.n_inputs, 0.15)
    targets = _targets(n_steps, 3, len(cfg.layers), cfg.batch)
    blocked = _run(cfg, spikes, targets, tmp_path / "blocked", "blocked")
    generic = _run(cfg, spikes, targets, tmp_path / "generic", "generic")
    _assert_same(blocked, generic, min_spikes=5)
    # (Brian2 numbers a code object whose name is taken, e.g. by an earlier test's network: _1, _2, ...)
    pathways = {name: text for name, text in blocked[3].items()
                if re.search(r"synapses_(pre|post)_codeobject(_\d+)?\.cpp$", name)}
    # per layer: forward spikes, learning events, the readout's error events
    assert len(pathways) == 3 * len(cfg.layers), sorted(pathways)
    for name, text in pathways.items():
        assert ".peek()" not in text and "_n_events" in text, name
    for name, text in blocked[3].items():
        if re.search(r"_push_spikes(_\d+)?\.cpp$", name):
            assert ".push(" not in text, name


@pytest.mark.parametrize("loops", devices.LOOPS)
def test_a_project_parses_objects_h_once(tmp_path, loops):
    """cpp_standalone (blocked or generic loops) compiles objects.h once per project into a precompiled
    header that every source but objects.cpp reads first, and deletes it after linking: the build folder
    keeps its size. objects.cpp compiles at -O0."""
    folder = tmp_path / "cpp"
    Target("cpp_standalone", str(folder), loops=loops).select()
    cells = b2.NeuronGroup(4, "x : 1", threshold="True", name="cells")
    links = b2.Synapses(cells, cells, "w : 1", on_pre="x_post += w", name="links")
    codegen.connect_blocks(links, 1, 4, 4)
    links.w = 0.5
    b2.Network(cells, links).run(1 * b2.ms)
    devices.build()
    assert np.allclose(cells.x[:], 0.5 * 4 * 10)   # 10 steps of 4 spikes each
    assert not (folder / "objects.h.gch").exists() and not (folder / "make.deps").exists()
    plan = subprocess.run(["make", "-n", "-B"], cwd=folder, capture_output=True, text=True, check=True).stdout
    compiles = [line for line in plan.splitlines() if " -c " in line]
    # objects.cpp (arrays set up, loaded and saved once per run) first, at -O0, parsing objects.h itself
    assert compiles[0].endswith("-O0 objects.cpp -o objects.o") and " -O3 " not in compiles[0]
    assert "-x c++-header objects.h -o objects.h.gch" in compiles[1] and " -O3 " in compiles[1]
    sources = compiles[2:]
    assert len(sources) >= 10 and all("-include objects.h " in c and " -O3 " in c for c in sources)
    devices.select("runtime", codegen_target="numpy")


def test_a_pathway_with_a_delay_stops_the_run(tmp_path):
    """A pathway without a queue delivers its events in their own step: a delay is refused by the program."""
    Target("cpp_standalone", str(tmp_path / "cpp")).select()
    cells = b2.NeuronGroup(4, "x : 1", threshold="True", name="cells")
    links = b2.Synapses(cells, cells, "w : 1", on_pre="x_post += w", name="links")
    codegen.connect_blocks(links, 1, 4, 4)
    links.delay = 1 * b2.ms
    b2.Network(cells, links).run(1 * b2.ms)
    with pytest.raises(RuntimeError) as failed:
        devices.build()
    assert "links: the synapses are not the declared layout" in str(failed.value)
    assert "with delays 0" in str(failed.value)


def test_a_layout_that_does_not_hold_stops_the_run(tmp_path):
    """The program checks the declared layout against Brian2's index arrays: a wrong declaration is an
    error naming the synapses, never a silently wrong sum."""
    Target("cpp_standalone", str(tmp_path / "cpp")).select()
    cells = b2.NeuronGroup(4, "x : 1\ny : 1", name="cells")
    links = b2.Synapses(cells, cells, "w : 1\ny_post = w*x_pre : 1 (summed)", name="links")
    links.connect(i=[0, 1, 2, 3], j=[1, 0, 3, 2])   # not diagonal blocks of 2 x 1
    codegen.declare(links, Blocks(2, 2, 1))
    b2.Network(cells, links).run(1 * b2.ms)
    with pytest.raises(RuntimeError) as failed:
        devices.build()
    assert "links: the synapses are not the declared layout" in str(failed.value)


@pytest.mark.parametrize("layout, pre, post", [
    (Blocks(1, 2, 3), [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2]),
    (Blocks(2, 2, 1), [0, 1, 2, 3], [0, 0, 1, 1]),
    (Blocks(2, 1, 2, post=(0, 2, 1)), [0, 0, 1, 1], [0, 1, 0, 1]),
])
def test_layouts_list_their_links_in_the_stored_order(layout, pre, post):
    assert [list(a) for a in layout.links()] == [pre, post]


def test_a_convolution_counts_its_connections():
    """5x5 kernel, padding 2, stride 1 on 28x28: every tap row reaches 28 - |dy - 2| output rows."""
    conv = Convolution("forward", 2, (1, 28, 28), (8, 28, 28), size=5, stride=1, padding=2)
    per_axis = sum(28 - abs(d - 2) for d in range(5))
    assert conv.n_synapses == 2 * 8 * per_axis ** 2
