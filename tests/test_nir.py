"""Export to NIR and import back (brian_decolle.nir_graph): shapes, node types, time constants,
exact round trips of the config and of every weight, the meaning of the neuron parameters,
and the refusals."""
import math

import numpy as np
import pytest
from conftest import poisson

from brian_decolle import ConfigError, ConvLayer, NetworkConfig, build_network

nir = pytest.importorskip("nir")
nir_graph = pytest.importorskip("brian_decolle.nir_graph")


def built(cfg, spikes=None):
    """A network built on the runtime device, and its state with the readouts."""
    n_steps = 3 if spikes is None else len(spikes)
    spikes = np.zeros((n_steps, cfg.batch * cfg.n_inputs)) if spikes is None else spikes
    dn = build_network(cfg, spikes, [np.zeros((n_steps, cfg.batch * s.readout_size)) for s in cfg.layers],
                       record_state=("u",))
    return dn, {**dn.learned_state(), **nir_graph.readout_state(dn)}


DENSE = NetworkConfig(n_inputs=12, layer_sizes=(6, 4), readout_sizes=(3, 2), bias=(True, False), alpha=0.95,
                      alpha_s=0.85, alpha_r=0.6, w_rp=1.5, dt_ms=0.5, lr=0.01, surrogate="sigmoid", seed=3)
CONV = NetworkConfig(n_inputs=2 * 6 * 6, input_shape=(2, 6, 6), conv_layers=(ConvLayer(3, kernel=3, padding=1,
                     stride=2),), layer_sizes=(5,), readout_sizes=4, dynamics="continuous", tau_mem_ms=20.0,
                     tau_syn_ms=5.0, tau_ref_ms=3.0, w_rp=0.7, batch=2, optimiser="sgd", seed=5)


@pytest.mark.parametrize("cfg", [DENSE, CONV], ids=["dense-discrete", "conv-continuous"])
def test_round_trip_through_a_file_is_exact(cfg, tmp_path):
    _, state = built(cfg)
    path = tmp_path / "net.nir"
    nir_graph.write(path, cfg, state)
    back, state_back = nir_graph.read(path)
    assert back == cfg and back.to_dict() == cfg.to_dict()
    assert set(state_back) == set(state)
    for name, values in state.items():
        assert np.array_equal(np.asarray(state_back[name]), np.asarray(values)), name


def test_dense_graph_nodes_and_time_constants():
    _, state = built(DENSE)
    graph = nir_graph.to_nir(DENSE, state)
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds == {"input": "Input", "layer1_synapses": "Linear", "layer1_neurons": "CubaLIF",
                     "layer1_readout": "Affine", "layer1_output": "Output", "layer2_synapses": "Linear",
                     "layer2_neurons": "CubaLIF", "layer2_readout": "Affine", "layer2_output": "Output"}
    dt = DENSE.dt_ms * 1e-3
    cell = graph.nodes["layer1_neurons"]
    assert np.allclose(cell.tau_mem, -dt / math.log(0.95)) and np.allclose(cell.tau_syn, -dt / math.log(0.85))
    assert np.allclose(np.exp(-dt / cell.tau_syn), 0.85)
    assert np.allclose(cell.w_in, cell.tau_syn * (1 - 0.85)) and np.allclose(cell.r, 1.0)
    assert np.all(cell.v_threshold == 0) and np.allclose(cell.v_reset, -(1 - 0.6) * 1.5)
    assert np.array_equal(cell.v_leak, state["layer1_b"])          # the bias is the rest potential
    assert np.all(graph.nodes["layer2_neurons"].v_leak == 0)        # bias=False
    w1 = graph.nodes["layer1_synapses"].weight
    assert w1.shape == (6, 12) and np.array_equal(w1, state["layer1_w"].reshape(12, 6).T)
    assert np.array_equal(graph.nodes["layer2_readout"].weight, state["layer2_g"])
    assert ("layer1_neurons", "layer2_synapses") in graph.edges


def test_conv_graph_nodes_and_shapes():
    _, state = built(CONV)
    graph = nir_graph.to_nir(CONV, state)
    conv = graph.nodes["layer1_synapses"]
    assert type(conv).__name__ == "Conv2d" and conv.weight.shape == (3, 2, 3, 3)
    assert tuple(conv.stride) == (2, 2) and tuple(conv.padding) == (1, 1)
    cell = graph.nodes["layer1_neurons"]
    assert cell.v_leak.shape == (3, 3, 3) and np.allclose(cell.tau_mem, 0.020) and np.allclose(cell.tau_syn, 0.005)
    assert np.allclose(cell.w_in, 0.005) and np.allclose(cell.r, 4.0) and np.allclose(cell.v_reset, -0.7)
    assert type(graph.nodes["layer1_readout_flatten"]).__name__ == "Flatten"
    assert type(graph.nodes["layer2_flatten"]).__name__ == "Flatten"
    assert graph.nodes["layer2_synapses"].weight.shape == (5, 27)


def test_output_layer_is_a_cuba_li_read_directly():
    cfg = NetworkConfig(n_inputs=10, layer_sizes=(7, 4), readout_sizes=4, output_layer=True)
    _, state = built(cfg)
    graph = nir_graph.to_nir(cfg, state)
    assert type(graph.nodes["layer2_neurons"]).__name__ == "CubaLI"
    assert ("layer2_neurons", "layer2_output") in graph.edges
    back, state_back = nir_graph.from_nir(graph)
    assert back == cfg and all(np.array_equal(state_back[k], state[k]) for k in state)


def test_without_readouts_the_last_spikes_are_the_output():
    cfg = NetworkConfig(n_inputs=8, layer_sizes=(5, 3), readout_sizes=(2, 6), readout_input="trace")
    _, state = built(cfg)
    graph = nir_graph.to_nir(cfg, {k: v for k, v in state.items() if not k.endswith(("_g", "_c"))}, readouts=False)
    assert [n for n, node in graph.nodes.items() if type(node).__name__ == "Output"] == ["output"]
    back, state_back = nir_graph.from_nir(graph)
    assert back == cfg and "layer1_g" not in state_back


def test_continuous_cuba_lif_is_our_membrane_below_threshold():
    """Below threshold (no spike, no refractory state) the exported CubaLIF's v, solved exactly,
    equals our continuous u at every step: the gains w_in, r and v_leak = b are right."""
    cfg = NetworkConfig(n_inputs=6, layer_sizes=(3,), readout_sizes=1, dynamics="continuous", tau_mem_ms=15.0,
                        tau_syn_ms=4.0, lr=0.0, seed=2)
    spikes = poisson(np.random.default_rng(0), 60, 6, 0.2)
    dn, state = built(cfg, spikes)
    state["layer1_b"] = np.array([-50.0, -60.0, -70.0])  # far below threshold: never a spike
    dn.run(learn=False, state={k: v for k, v in state.items() if k in dn.learned})
    u = dn.state(1, "u")
    cell = nir_graph.to_nir(cfg, state).nodes["layer1_neurons"]
    w = nir_graph.to_nir(cfg, state).nodes["layer1_synapses"].weight
    ts, tm, gain = cell.tau_syn[0], cell.tau_mem[0], cell.r[0] * cell.w_in[0]
    dt = cfg.dt_s
    for n in range(len(spikes)):
        # the summed input of step n reads p before that step's integration, i.e. at (n - 1) dt, and an
        # input spike of step s enters q after the integration of step s: delay n - 1 - s steps
        delta = (n - 1 - np.arange(max(n - 1, 0))) * dt
        kernel = gain / (tm - ts) * (np.exp(-delta / tm) - np.exp(-delta / ts))  # v of one unit-weight spike
        v = cell.v_leak + w @ (spikes[:len(delta)] * kernel[:, None]).sum(axis=0)
        assert np.allclose(u[n], v, rtol=1e-9, atol=1e-9), n


def test_foreign_cuba_lif_stack_maps_to_continuous_dynamics():
    """An snnTorch-style stack: Affine -> CubaLIF (threshold 1, reset 0, Euler gains)."""
    rng = np.random.default_rng(4)
    dt, ts, tm = 1e-3, 5e-3, 20e-3
    w1, b1, w2, b2 = rng.normal(size=(5, 8)), rng.normal(size=5), rng.normal(size=(3, 5)), rng.normal(size=3)

    def cell(n):
        return nir.CubaLIF(tau_syn=np.full(n, ts), tau_mem=np.full(n, tm), r=np.full(n, tm / dt),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, ts / dt))

    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([8])), nir.Affine(weight=w1, bias=b1), cell(5),
                                   nir.Affine(weight=w2, bias=b2), cell(3), nir.Output(output_type=np.array([3])))
    cfg, state = nir_graph.from_nir(graph)
    assert cfg.dynamics == "continuous" and cfg.layer_sizes == (5, 3) and cfg.readout_sizes == (3, 3)
    assert math.isclose(cfg.tau_mem_ms, 20.0) and math.isclose(cfg.tau_syn_ms, 5.0)
    assert math.isclose(cfg.w_rp, 1.0) and math.isclose(cfg.tau_ref_ms, 20.0)
    gain = (tm / dt) * (ts / dt)
    assert np.allclose(state["layer1_w"].reshape(8, 5).T, gain / tm * w1)
    assert np.allclose(state["layer2_b"], -1.0 + gain * b2)
    assert "layer1_g" not in state and "layer1_w_norm" in state  # Adamax starts fresh


def test_export_refusals():
    with pytest.raises(ConfigError, match="random_tau"):
        nir_graph.to_nir(NetworkConfig(n_inputs=4, layer_sizes=(2,), readout_sizes=1, random_tau=True), {})
    pooled = NetworkConfig(n_inputs=36, input_shape=(1, 6, 6), conv_layers=(ConvLayer(2, kernel=3, pool=2),),
                           layer_sizes=(), readout_sizes=1)
    with pytest.raises(ConfigError, match=r"conv_layers\[0\] pool=2.*SumPool2d"):
        nir_graph.to_nir(pooled, {})
    with pytest.raises(ConfigError, match="readout_input='sigmoid'"):
        nir_graph.to_nir(NetworkConfig(n_inputs=4, layer_sizes=(2,), readout_sizes=1, readout_input="sigmoid"), {})
    _, state = built(DENSE)
    with pytest.raises(ConfigError, match="layer1_g.*readout_state"):
        nir_graph.to_nir(DENSE, {k: v for k, v in state.items() if k != "layer1_g"})
    with pytest.raises(ConfigError, match="layer2_w must hold 24"):
        nir_graph.to_nir(DENSE, {**state, "layer2_w": np.zeros(5)})


def test_import_refusals():
    n = 3
    lif = nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([4])), nir.Linear(weight=np.ones((n, 4))), lif)
    with pytest.raises(ConfigError, match="'lif' is a LIF.*CubaLIF"):
        nir_graph.from_nir(graph)
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0]))
    graph = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1, 4, 4])), "pool": pool,
                                "output": nir.Output(output_type=np.array([1, 2, 2]))},
                         edges=[("input", "pool"), ("pool", "output")], metadata={})
    with pytest.raises(ConfigError, match="'pool' is a SumPool2d.*maximum"):
        nir_graph.from_nir(graph)

    def cell(tau_mem):
        return nir.CubaLIF(tau_syn=np.full(n, 0.005), tau_mem=np.asarray(tau_mem, float), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n), w_in=np.ones(n))

    graph = nir.NIRGraph.from_list(nir.Input(input_type=np.array([4])), nir.Linear(weight=np.ones((n, 4))),
                                   cell([0.01, 0.02, 0.01]))
    with pytest.raises(ConfigError, match="tau_mem varies"):
        nir_graph.from_nir(graph)
    with pytest.raises(ConfigError, match="nir.NIRGraph"):
        nir_graph.from_nir({"nodes": {}})
