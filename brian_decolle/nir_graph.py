"""A DECOLLE network as a NIR graph (Neuromorphic Intermediate Representation), and back.

NIR (``pip install 'brian-decolle[nir]'``; written against nir 1.0.8) is read by
snnTorch, Norse, Lava, Sinabs and others. ``nir`` is imported only when one of
these functions runs, so it stays an optional extra.

The graph written by :func:`to_nir`, per layer k (conv layers first, as NetworkConfig)::

    input -> [layer{k}_flatten] -> layer{k}_synapses -> layer{k}_neurons -> (layer k+1) ...
                                   Conv2d or Linear     CubaLIF (CubaLI for the output layer)
    layer{k}_neurons -> [layer{k}_readout_flatten] -> layer{k}_readout (Affine g, c) -> layer{k}_output

one Output per layer readout (every DECOLLE layer is read out; the non-spiking
output layer's readout is its membrane potential, so its CubaLI feeds its Output
directly). With ``readouts=False`` the last layer's spikes are the one Output.

How the model maps onto CubaLIF (tau_syn dI/dt = -I + w_in S; tau_mem dv/dt = v_leak - v + r I;
spike when v > v_threshold, then v = v_reset):

* exact: the weights (torch layout), the kernel geometry, every shape; the filter.
  Our traces (q, p) live on the presynaptic side, but with one pair of decays for
  every spike train, sum_j w_ij p_j is the same linear filter applied to the
  weighted spikes, i.e. a postsynaptic I = W q and v - v_leak = W p. With time
  constants drawn per presynaptic neuron (random_tau) that is no longer one filter
  per neuron, so it is refused.
* exact in the ODE: the bias. u = W p + b + r relaxes to b, so b is v_leak (per
  neuron; per channel for a convolution) and v_threshold is 0. (Our traces start a
  sample at 0, so u starts at b; a simulator that starts v at 0 instead sees a
  transient of about tau_mem.)
* continuous dynamics: tau_syn, tau_mem as given; q jumps by 1 per spike and
  tau_mem dp/dt = -p + (tau_mem/tau_syn) q, so w_in = tau_syn, r = tau_mem/tau_syn.
  Below threshold, v of the CubaLIF solved exactly equals our u one step later (our
  step n reads p at (n - 1) dt; tests/test_nir.py checks it to 1e-9).
* discrete dynamics (decolle-public's LIFLayer), approximate: tau = -dt/ln(alpha)
  for each decay, so q, which jumps by 1 - alpha_s and decays by alpha_s per step,
  is exact at the steps (w_in = tau_syn (1 - alpha_s)); p = alpha p + (1 - alpha) q
  of the previous step is tau_mem dp/dt = -p + q (r = 1) integrated with q held
  over the step, which delays a spike by one step in p and differs from the ODE's
  exact solution by O(dt/tau_syn).
* approximate: the refractory state. DECOLLE never resets u; a spike adds a kick
  -w_rp (discrete: -(1 - alpha_r) w_rp) that decays with tau_ref (alpha_r). NIR's
  CubaLIF has no refractory kernel, only a reset to an absolute value: v_reset =
  -kick, the value u takes right after a spike that just crossed 0. A NIR reader
  forgets how far above threshold v was and recovers with tau_mem, not tau_ref.
  The non-spiking output layer becomes a CubaLI, which drops the refractory kicks
  of its (unread) spikes.
* the exact decays, w_rp, tau_ref and every training setting (surrogate, loss,
  optimiser, ...) have no NIR field: they travel in the graph's metadata
  ('brian_decolle_config', JSON of NetworkConfig.to_dict()), which :func:`from_nir`
  uses where it agrees with the graph's arrays, to restore the exact floats.

Refused on export: random_tau=True (above), max-pooling (NIR has SumPool2d and
AvgPool2d, no max-pool; ours takes the max of u), and readouts that read
something else than the spikes (readout_input 'trace' or 'sigmoid') unless
readouts=False.

:func:`from_nir` reads what :func:`to_nir` writes, and feed-forward stacks of
Input -> [Flatten] -> Linear/Affine/Conv2d -> CubaLIF ... [-> CubaLI] -> Output from
other tools, as continuous dynamics: one tau_syn and one tau_mem for all neurons
(NetworkConfig holds one of each); w_ours = (r w_in / tau_mem) w, which makes our u
equal v - v_threshold; b = v_leak - v_threshold + r w_in (Affine bias), the Affine
bias being a constant current (exact after its transient); w_rp = v_threshold -
v_reset, the same for all neurons, and tau_ref = tau_mem (a reset recovers with
tau_mem). Layers without a readout branch get readouts as large as the network's
output (DECOLLE reads the classes out of every layer), drawn by the builder.
Everything else is refused with a ConfigError naming the node and what is read.
"""
from __future__ import annotations

import json
import math

import numpy as np

from .build import optimiser_state
from .checks import ConfigError
from .config import ConvLayer, NetworkConfig

INSTALL = "install the extra: pip install 'brian-decolle[nir]'"
SOURCE = "brian_decolle"
FORMAT = 1
SUPPORTED = ("Input", "Output", "Flatten", "Linear", "Affine", "Conv2d", "CubaLIF", "CubaLI")
#: why the other NIR nodes have no counterpart here
UNSUPPORTED = {
    "LIF": "a one-time-constant neuron; DECOLLE's neuron filters with tau_syn and tau_mem (CubaLIF)",
    "LI": "a one-time-constant integrator; the output layer is a CubaLI",
    "IF": "a non-leaky neuron; DECOLLE's neuron is a CubaLIF", "I": "a non-leaky integrator",
    "SumPool2d": "DECOLLE pools by the maximum of u (no sum pooling)",
    "AvgPool2d": "DECOLLE pools by the maximum of u (no average pooling)",
    "Delay": "no synaptic delays", "Threshold": "no bare threshold units", "Scale": "no bare scaling units",
    "Conv1d": "2-d convolutions only", "NIRGraph": "no subgraphs",
}
APPROXIMATIONS = (
    "refractory kernel (w_rp, tau_ref) written as a reset v_reset = -kick; DECOLLE does not reset u",
    "discrete dynamics: tau = -dt/ln(alpha); p integrates the previous step's q (one-step delay, O(dt/tau_syn))",
    "bias as v_leak with threshold 0: exact in the ODE; a simulator starting v at 0 sees a tau_mem transient",
    "output layer as CubaLI: the refractory kicks of its unread spikes are dropped",
)
#: what a throw-away config needs to tell our export's gain from the neuron constants alone
PROBE = {"n_inputs": 1, "input_shape": None, "conv_layers": (), "layer_sizes": (1,), "readout_sizes": 1,
         "output_layer": False, "bias": True, "weight_scale": 1.0}


def _nir():
    try:
        import nir
    except ImportError:
        raise ConfigError(f"NIR export and import need the package nir (and h5py); {INSTALL}") from None
    return nir


# ---- export ---------------------------------------------------------------------------
def to_nir(cfg: NetworkConfig, state: dict, *, readouts: bool = True):
    """The network's forward path as a nir.NIRGraph (see the module docstring).

    state: learned values by name as ``DecolleNetwork.learned_state`` (or a learned.npz)
    holds them: layerN_w in the stored layout, layerN_b; optimiser state is ignored.
    readouts=True also needs each layer's fixed readout, layerN_g (readout, n_outputs)
    and layerN_c (readout,) as ``get_weights`` lays them out: :func:`readout_state` of
    the built network (they are drawn from cfg.seed, not learned, so checkpoints lack them).
    """
    nir = _nir()
    _check_exportable(cfg, readouts)
    neuron = _neuron_constants(cfg)
    nodes = {"input": nir.Input(input_type={"input": np.array(cfg.input_shape or (cfg.n_inputs,))})}
    edges = []
    pre, pre_shape = "input", tuple(cfg.input_shape or (cfg.n_inputs,))
    for spec in cfg.layers:
        k = spec.index
        w = _weights(cfg, spec, state)
        b = _array(state, f"layer{k}_b", (spec.channels,)) if spec.bias else np.zeros(spec.channels)
        if spec.is_conv:
            synapses = nir.Conv2d(input_shape=tuple(spec.input_shape[1:]), weight=w, stride=spec.stride,
                                  padding=spec.padding, dilation=1, groups=1, bias=np.zeros(spec.channels))
            shape = spec.unit_shape
            v_leak = np.broadcast_to(b[:, None, None], shape).copy()
        else:
            if len(pre_shape) > 1:
                pre = _link(nodes, edges, pre, f"layer{k}_flatten", _flatten(nir, pre_shape))
            synapses = nir.Linear(weight=w)  # no synaptic bias: b is the rest potential v_leak
            shape, v_leak = (spec.n_units,), b.copy()
        pre = _link(nodes, edges, pre, f"layer{k}_synapses", synapses)
        full = {name: np.full(shape, value) for name, value in neuron.items()}
        if spec.is_output:
            cell = nir.CubaLI(tau_syn=full["tau_syn"], tau_mem=full["tau_mem"], r=full["r"], v_leak=v_leak,
                              w_in=full["w_in"])
        else:
            cell = nir.CubaLIF(tau_syn=full["tau_syn"], tau_mem=full["tau_mem"], r=full["r"], v_leak=v_leak,
                               v_threshold=np.zeros(shape), v_reset=-full["kick"], w_in=full["w_in"])
        pre = _link(nodes, edges, pre, f"layer{k}_neurons", cell)
        pre_shape = shape
        if readouts:
            _add_readout(nir, nodes, edges, cfg, spec, state, pre, shape)
    if not readouts:
        _link(nodes, edges, pre, "output", nir.Output(output_type={"output": np.array(pre_shape)}))
    metadata = {"source": SOURCE, "format": FORMAT, "brian_decolle_config": json.dumps(cfg.to_dict()),
                "dt": cfg.dt_s, "approximations": "; ".join(APPROXIMATIONS)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def readout_state(dn) -> dict[str, np.ndarray]:
    """layerN_g, layerN_c of a built DecolleNetwork's readouts (the output layer has none: its
    readout is its u), to merge into the state given to :func:`to_nir`."""
    out = {}
    for spec in dn.cfg.layers:
        if not spec.is_output:
            weights = dn.get_weights(spec.index)
            out[f"layer{spec.index}_g"], out[f"layer{spec.index}_c"] = weights["g"], weights["c"]
    return out


def write(path, cfg: NetworkConfig, state: dict, *, readouts: bool = True) -> None:
    """:func:`to_nir` written to a .nir (HDF5) file by nir.write."""
    _nir().write(path, to_nir(cfg, state, readouts=readouts))


def read(path) -> tuple[NetworkConfig, dict]:
    """:func:`from_nir` of a .nir file read by nir.read."""
    return from_nir(_nir().read(path))


def _check_exportable(cfg, readouts) -> None:
    if not isinstance(cfg, NetworkConfig):
        raise ConfigError(f"cfg must be a NetworkConfig, not {type(cfg).__name__}")
    if cfg.random_tau:
        raise ConfigError("random_tau=True cannot be exported to NIR: the time constants are drawn per "
                          "presynaptic spike train, so one neuron's inputs decay differently and no per-neuron "
                          "CubaLIF holds them; allowed: random_tau=False")
    for k, conv in enumerate(cfg.conv_layers):
        if conv.pool != 1:
            raise ConfigError(f"conv_layers[{k}] pool={conv.pool} cannot be exported to NIR: DECOLLE max-pools "
                              "the membrane potential and NIR has only SumPool2d and AvgPool2d; allowed: pool=1")
    if readouts and cfg.readout_input != "spike":
        raise ConfigError(f"readout_input={cfg.readout_input!r}: the readout reads a neuron variable that a NIR "
                          "graph cannot tap; allowed with readouts: 'spike' (or export with readouts=False)")


def _neuron_constants(cfg) -> dict[str, float]:
    """tau_syn, tau_mem (s), w_in, r and the refractory kick of the module docstring's mapping."""
    if cfg.dynamics == "discrete":
        tau_syn, tau_mem = -cfg.dt_s / math.log(cfg.alpha_s), -cfg.dt_s / math.log(cfg.alpha)
        return {"tau_syn": tau_syn, "tau_mem": tau_mem, "w_in": tau_syn * (1 - cfg.alpha_s), "r": 1.0,
                "kick": (1 - cfg.alpha_r) * cfg.w_rp}
    tau_syn, tau_mem = cfg.tau_syn_ms * 1e-3, cfg.tau_mem_ms * 1e-3
    return {"tau_syn": tau_syn, "tau_mem": tau_mem, "w_in": tau_syn, "r": tau_mem / tau_syn, "kick": cfg.w_rp}


def _gain(cfg) -> float:
    """r * w_in of our own export: the factor between a NIR weight and ours (1 for our graphs)."""
    c = _neuron_constants(cfg)
    return c["r"] * c["w_in"]


def _array(state, key, shape) -> np.ndarray:
    if key not in state:
        hint = " (the readouts: merge readout_state(dn) of the built network, or readouts=False)" \
            if key.endswith(("_g", "_c")) else ""
        raise ConfigError(f"state lacks {key}{hint}")
    value = np.asarray(state[key], dtype=float)
    if value.size != math.prod(shape) or not np.all(np.isfinite(value)):
        raise ConfigError(f"state {key} must hold {math.prod(shape)} finite values ({shape}), not {value.shape}")
    return value.reshape(shape)


def _weights(cfg, spec, state) -> np.ndarray:
    """layerN_w in torch's layout (DecolleNetwork.kernel_layout, without building the network)."""
    flat = _array(state, f"layer{spec.index}_w", (spec.n_kernel,))
    if spec.is_conv:
        return flat.reshape(spec.input_shape[0], spec.channels, spec.kernel, spec.kernel).transpose(1, 0, 2, 3)
    return flat.reshape(spec.n_inputs, spec.n_units).T.copy()


def _flatten(nir, shape):
    return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)


def _link(nodes, edges, pre, name, node) -> str:
    nodes[name] = node
    edges.append((pre, name))
    return name


def _add_readout(nir, nodes, edges, cfg, spec, state, pre, shape) -> None:
    k = spec.index
    if spec.is_output:  # y = u: the CubaLI's v is the readout
        _link(nodes, edges, pre, f"layer{k}_output", nir.Output(output_type={"output": np.array(shape)}))
        return
    g = _array(state, f"layer{k}_g", (spec.readout_size, spec.n_outputs))
    c = _array(state, f"layer{k}_c", (spec.readout_size,))
    if len(shape) > 1:
        pre = _link(nodes, edges, pre, f"layer{k}_readout_flatten", _flatten(nir, shape))
    pre = _link(nodes, edges, pre, f"layer{k}_readout", nir.Affine(weight=g.copy(), bias=c.copy()))
    _link(nodes, edges, pre, f"layer{k}_output", nir.Output(output_type={"output": np.array([spec.readout_size])}))


# ---- import ---------------------------------------------------------------------------
def from_nir(graph) -> tuple[NetworkConfig, dict]:
    """The NetworkConfig and state (learned values by name, as ``run(state=...)`` takes them)
    of a NIR graph that maps onto the model; see the module docstring for what is read.

    The state holds layerN_w (stored layout), layerN_b (layers with a bias), the readouts
    layerN_g, layerN_c where the graph has them, and the optimiser's state at its start
    (build.optimiser_state).
    """
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"graph must be a nir.NIRGraph, not {type(graph).__name__}")
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    for name, kind in kinds.items():
        if kind not in SUPPORTED:
            why = UNSUPPORTED.get(kind, "no counterpart in the model")
            raise ConfigError(f"node {name!r} is a {kind} ({why}); from_nir reads {', '.join(SUPPORTED)} in a "
                              "feed-forward stack Input -> [Flatten] -> Linear/Affine/Conv2d -> CubaLIF ... -> Output")
    layers, readouts, input_shape = _walk(graph, kinds)
    base = _our_config(graph)
    return _assemble(layers, readouts, input_shape, base)


def _walk(graph, kinds):
    """The stack's layers [(synapse node, neuron node, input shape)] and their readouts
    {layer: Affine/Linear node, or 'identity'}, following the edges from the Input."""
    after, before = {}, {}
    for a, b in graph.edges:
        after.setdefault(a, []).append(b)
        before.setdefault(b, []).append(a)
    for name, pres in before.items():
        if len(pres) > 1:
            raise ConfigError(f"node {name!r} ({kinds[name]}) has {len(pres)} inputs ({', '.join(pres)}); from_nir "
                              "reads feed-forward stacks: one input per node, no recurrence")
    inputs = [n for n, kind in kinds.items() if kind == "Input"]
    if len(inputs) != 1:
        raise ConfigError(f"the graph has {len(inputs)} Input nodes; from_nir reads graphs with exactly one")
    shape = tuple(int(x) for x in np.atleast_1d(graph.nodes[inputs[0]].input_type["input"]))
    input_shape, seen = shape, {inputs[0]}
    layers, readouts, current = [], {}, inputs[0]
    while True:
        trunk = None
        for first in after.get(current, []):
            chain = _chain(graph, kinds, after, first)
            seen.update(chain)
            ends = [kinds[n] for n in chain]
            if ends == ["Output"]:
                if current == inputs[0]:
                    raise ConfigError("the Input feeds an Output directly; from_nir reads stacks of neuron layers")
                continue  # the layer's own spikes (or, after a CubaLI, its readout y = u)
            if ends[-1] == "Output" and ends[-2] in ("Affine", "Linear") and current != inputs[0]:
                readouts[len(layers) - 1] = graph.nodes[chain[-2]]
                continue
            synapse = ends[-2] if len(ends) > 1 else None
            flatten_ok = all(_whole_flatten(graph.nodes[n]) for n in chain if kinds[n] == "Flatten") \
                and not (synapse == "Conv2d" and "Flatten" in ends)
            if ends[-1] not in ("CubaLIF", "CubaLI") or synapse not in ("Linear", "Affine", "Conv2d") \
                    or not flatten_ok or trunk is not None:
                raise ConfigError(f"after {current!r}: the path {' -> '.join(chain)} ({' -> '.join(ends)}) is "
                                  "neither the next layer ([Flatten of all dims ->] Linear/Affine, or Conv2d, -> CubaLIF/CubaLI; "
                                  "one per layer) nor a readout ([Flatten ->] Affine/Linear -> Output)")
            trunk = chain
        if current != inputs[0] and kinds[current] == "CubaLI":
            if trunk is not None:
                raise ConfigError(f"node {current!r} is a CubaLI followed by another layer; a non-spiking CubaLI "
                                  "is read only as the last (output) layer")
            if "Output" not in [kinds[n] for n in after.get(current, [])]:
                raise ConfigError(f"node {current!r} (CubaLI, the output layer) must feed an Output")
            readouts[len(layers) - 1] = "identity"
        if trunk is None:
            break
        layers.append((graph.nodes[trunk[-2]], graph.nodes[trunk[-1]], shape, trunk))
        shape = _unit_shape(graph.nodes[trunk[-1]])
        current = trunk[-1]
    if not layers:
        raise ConfigError("the graph has no CubaLIF layer; from_nir reads stacks of CubaLIF (and a last CubaLI)")
    unread = sorted(set(kinds) - seen)
    if unread:
        raise ConfigError(f"nodes {', '.join(unread)} are not reached from the Input; from_nir reads one stack")
    return layers, readouts, input_shape


def _chain(graph, kinds, after, first) -> list[str]:
    """Nodes from ``first`` along single edges up to a neuron or an Output."""
    chain = [first]
    while kinds[chain[-1]] not in ("CubaLIF", "CubaLI", "Output"):
        nxt = after.get(chain[-1], [])
        if len(nxt) != 1:
            raise ConfigError(f"node {chain[-1]!r} ({kinds[chain[-1]]}) feeds {len(nxt)} nodes; a synapse or "
                              "Flatten node feeds exactly one")
        chain.append(nxt[0])
    if sum(kinds[n] != "Flatten" for n in chain[:-1]) > 1:
        raise ConfigError(f"the path {' -> '.join(chain)} has more than one synapse node before "
                          f"{kinds[chain[-1]]}; allowed: [Flatten ->] Linear/Affine/Conv2d")
    return chain


def _whole_flatten(node) -> bool:
    """A Flatten of the whole (channels, height, width) input to one vector."""
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    last = {-1} | ({len(shape) - 1} if shape is not None else set())
    return int(node.start_dim) == 0 and int(node.end_dim) in last


def _unit_shape(cell) -> tuple[int, ...]:
    return tuple(int(x) for x in np.shape(cell.v_leak)) or (1,)


def _our_config(graph) -> dict:
    """NetworkConfig.to_dict() from the metadata of a graph that to_nir wrote ({} otherwise)."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    if meta.get("source") != SOURCE:
        return {}
    if int(meta.get("format", -1)) != FORMAT:
        raise ConfigError(f"metadata format={meta.get('format')!r} of a brian_decolle graph; this version reads "
                          f"format {FORMAT}")
    return json.loads(str(meta["brian_decolle_config"]))


def _uniform(name, values, tol=1e-9) -> float:
    values = np.asarray(values, dtype=float).ravel()
    if not np.allclose(values, values[0], rtol=tol, atol=0):
        raise ConfigError(f"{name} varies ({values.min():.6g} .. {values.max():.6g}); NetworkConfig holds one value "
                          "for all neurons of all layers")
    return float(values[0])


def _exact(base: dict, key: str, derived: float) -> float:
    """The metadata's exact value where it agrees with the graph to rounding, else the graph's."""
    if key in base and math.isclose(float(base[key]), derived, rel_tol=1e-9, abs_tol=1e-12):
        return base[key]
    return derived


def _per_channel(name, values, shape) -> np.ndarray:
    """Values of a conv layer's units (C, H, W), one per channel (shared kernel and bias)."""
    values = np.broadcast_to(np.asarray(values, dtype=float), shape).reshape(shape[0], -1)
    if not np.allclose(values, values[:, :1], rtol=1e-9, atol=1e-12):
        raise ConfigError(f"{name} varies within a channel; a convolution shares it per channel")
    return values[:, 0].copy()


def _assemble(layers, readouts, input_shape, base):
    """NetworkConfig and state from the walked stack; base: our metadata config ({} if foreign)."""
    ours = bool(base)
    dynamics = base.get("dynamics", "continuous")
    cells = [cell for _, cell, _, _ in layers]
    tau_syn = _uniform("tau_syn", np.concatenate([np.ravel(c.tau_syn) for c in cells]))
    tau_mem = _uniform("tau_mem", np.concatenate([np.ravel(c.tau_mem) for c in cells]))
    spiking = [c for c in cells if type(c).__name__ == "CubaLIF"]
    kick = _uniform("v_threshold - v_reset", np.concatenate(
        [np.ravel(np.asarray(c.v_threshold, float) - np.asarray(c.v_reset, float)) for c in spiking])) \
        if spiking else 0.0
    if kick < 0:
        raise ConfigError(f"v_threshold - v_reset = {kick:.6g} < 0: a reset above threshold has no counterpart "
                          "(w_rp >= 0)")
    values = {"dynamics": dynamics}
    dt_s = base.get("dt_ms", 1.0) * 1e-3
    if dynamics == "discrete":
        values["alpha_s"] = _exact(base, "alpha_s", math.exp(-dt_s / tau_syn))
        values["alpha"] = _exact(base, "alpha", math.exp(-dt_s / tau_mem))
        values["w_rp"] = _exact(base, "w_rp", kick / (1 - base["alpha_r"]))
    else:
        values["tau_syn_ms"] = _exact(base, "tau_syn_ms", tau_syn * 1e3)
        values["tau_mem_ms"] = _exact(base, "tau_mem_ms", tau_mem * 1e3)
        values["w_rp"] = _exact(base, "w_rp", kick)
        if not ours:
            values["tau_ref_ms"] = values["tau_mem_ms"]  # a reset recovers with tau_mem
    # the gain our own export writes for these constants: NIR weights are ours times (r w_in)/gain
    gain = _gain(NetworkConfig.from_dict({**base, **values, **PROBE}))

    state, conv_layers, layer_sizes, biases = {}, [], [], []
    for index, (synapses, cell, in_shape, names) in enumerate(layers, start=1):
        kind = type(synapses).__name__
        shape = _unit_shape(cell)
        scale = np.asarray(cell.r, float) * np.asarray(cell.w_in, float) / gain
        scale = np.where(np.isclose(scale, 1.0, rtol=1e-12, atol=0), 1.0, scale)  # our own graphs: exactly 1
        rest = np.asarray(cell.v_leak, float) - (np.asarray(cell.v_threshold, float)
                                                  if type(cell).__name__ == "CubaLIF" else 0.0)
        w = np.asarray(synapses.weight, dtype=float)
        syn_bias = np.asarray(getattr(synapses, "bias", 0.0), dtype=float)
        if kind == "Conv2d":
            if layer_sizes:
                raise ConfigError(f"node {names[-2]!r} (Conv2d) follows a dense layer; conv layers come first")
            conv = _conv_layer(names[-2], synapses, in_shape, shape)
            scale = _per_channel(f"r*w_in of {names[-1]!r}", scale, shape)
            bias = _per_channel(f"v_leak - v_threshold of {names[-1]!r}", rest, shape) \
                + _per_channel("bias", np.asarray(cell.r, float) * np.asarray(cell.w_in, float)
                               * np.reshape(np.broadcast_to(syn_bias, (shape[0],)), (-1, 1, 1)), shape)
            w = w * scale[:, None, None, None]
            state[f"layer{index}_w"] = w.transpose(1, 0, 2, 3).ravel()
            conv_layers.append(conv)
        else:
            if len(shape) != 1 or w.shape != (shape[0], math.prod(in_shape)):
                raise ConfigError(f"node {names[-2]!r} ({kind}) has weights {w.shape} from {in_shape} into "
                                  f"{names[-1]!r} of shape {shape}; allowed: (n, inputs) into (n,)")
            scale = np.broadcast_to(scale, shape)
            bias = np.broadcast_to(rest, shape) + np.asarray(cell.r, float) * np.asarray(cell.w_in, float) * syn_bias
            w = w * scale[:, None]
            state[f"layer{index}_w"] = w.T.ravel()
            layer_sizes.append(shape[0])
        biases.append(bool(np.any(bias != 0)) or not ours or _layer_value(base.get("bias", True), index - 1))
        if biases[-1]:
            state[f"layer{index}_b"] = np.array(bias, dtype=float)

    n_layers = len(layers)
    output_layer = readouts.get(n_layers - 1) == "identity"
    hidden = [k for k in range(n_layers) if not (output_layer and k == n_layers - 1)]
    read = [k for k in hidden if k in readouts]
    if read and len(read) != len(hidden):
        missing = sorted(set(hidden) - set(read))
        raise ConfigError(f"layers {', '.join(str(k + 1) for k in missing)} have no readout (Affine -> Output) while "
                          "others have one; every DECOLLE layer has one: give all layers readouts or none")
    n_out = math.prod(_unit_shape(cells[-1]))
    sizes = []
    if not read and ours:  # exported with readouts=False: the sizes are the metadata's
        readouts = {**readouts, **{k: "unwritten" for k in hidden}}
    for k in range(n_layers):
        node = readouts.get(k)
        if node is None or node == "identity":
            sizes.append(n_out)
            continue
        if node == "unwritten":
            sizes.append(_layer_value(base["readout_sizes"], k))
            continue
        g = np.asarray(node.weight, dtype=float)
        sizes.append(g.shape[0])
        state[f"layer{k + 1}_g"] = g.copy()
        state[f"layer{k + 1}_c"] = np.asarray(getattr(node, "bias", np.zeros(g.shape[0])), float).copy()
    values.update({
        "n_inputs": math.prod(input_shape),
        "input_shape": tuple(input_shape) if len(input_shape) == 3 else None,
        "conv_layers": tuple(conv_layers), "layer_sizes": tuple(layer_sizes), "output_layer": output_layer,
        "readout_sizes": _same_form(base.get("readout_sizes"), tuple(sizes)),
        "bias": _same_form(base.get("bias"), tuple(biases)),
    })
    if len(input_shape) not in (1, 3):
        raise ConfigError(f"Input shape {input_shape}: allowed (n,) or (channels, height, width)")
    cfg = NetworkConfig.from_dict({**base, **values})  # the graph's values over the metadata's
    if cfg.learning == "dense":  # a fresh build's optimiser state
        for spec in cfg.layers:
            for role, n in [("w", spec.n_kernel)] + ([("b", spec.channels)] if spec.bias else []):
                state.update({f"layer{spec.index}_{role}_{suffix}": start
                              for suffix, start in optimiser_state(cfg, n).items()})
    return cfg, state


def _conv_layer(name, node, in_shape, unit_shape) -> ConvLayer:
    if len(in_shape) != 3:
        raise ConfigError(f"node {name!r} (Conv2d) reads shape {in_shape}; allowed: (channels, height, width)")
    w = np.asarray(node.weight)
    pairs = {"stride": node.stride, "padding": node.padding, "dilation": node.dilation}
    got = {}
    for field, value in pairs.items():
        if isinstance(value, str):
            if field == "padding" and value == "valid":
                value = 0
            else:
                raise ConfigError(f"node {name!r} (Conv2d) padding={value!r}; allowed: an integer or 'valid'")
        value = np.atleast_1d(np.asarray(value)).astype(int)
        if not np.all(value == value[0]):
            raise ConfigError(f"node {name!r} (Conv2d) {field}={tuple(value)}; allowed: the same in both directions")
        got[field] = int(value[0])
    if got["dilation"] != 1 or int(node.groups) != 1 or w.shape[2] != w.shape[3] or w.shape[1] != in_shape[0]:
        raise ConfigError(f"node {name!r} (Conv2d) dilation={got['dilation']}, groups={int(node.groups)}, kernel "
                          f"{w.shape[2:]} on {in_shape[0]} channels; allowed: dilation 1, groups 1, square kernels "
                          "over all input channels")
    conv = ConvLayer(channels=w.shape[0], kernel=w.shape[2], padding=got["padding"], stride=got["stride"])
    if conv.unit_shape(in_shape) != tuple(unit_shape):
        raise ConfigError(f"node {name!r} (Conv2d) makes {conv.unit_shape(in_shape)} units but its neurons have "
                          f"shape {tuple(unit_shape)}")
    return conv


def _layer_value(value, k):
    return value[k] if isinstance(value, (tuple, list)) and len(value) > 1 else \
        (value[0] if isinstance(value, (tuple, list)) else value)


def _same_form(given, derived: tuple):
    """The metadata's per-layer value as it was written (one value or a tuple) if it expands to
    the graph's, so that our configs come back equal; else the graph's tuple."""
    if given is None:
        return derived
    expanded = tuple(given) if isinstance(given, (tuple, list)) else (given,) * len(derived)
    if len(expanded) == 1:
        expanded *= len(derived)
    return given if expanded == derived else derived
