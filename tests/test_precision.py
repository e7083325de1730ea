"""float32 against float64 on cpp_standalone: the same network, input, seed and dropout masks.

The check that defines "float32 works" (issue 12):
- every layer's spikes are identical over the first SAME_STEPS steps;
- after that, rounding may flip a spike that sat on the threshold, and the trajectories then
  part: at most MAX_DIFFERING of all (step, neuron) spike entries may differ over the run;
- the learned weights differ from float64's by at most MAX_WEIGHT_DIFFERENCE of the weight
  change learning made (the norm of the difference over the norm of float64's change).
"""
import numpy as np
import pytest

from brian_decolle import ConfigError, NetworkConfig, build_network, devices
from conftest import poisson

SAME_STEPS = 100
MAX_DIFFERING = 0.01
MAX_WEIGHT_DIFFERENCE = 1e-3


def _train(precision, build_dir, spikes, targets, cfg):
    devices.select("cpp_standalone", build_dir=build_dir, precision=precision)
    dn = build_network(cfg, spikes, targets, record_spikes=True)
    initial = dn.learned_state(initial=True)
    dn.run(seed=cfg.seed)
    devices.build()
    weights = dn.learned_state()
    return [dn.spikes(k) for k in (1, 2)], weights, initial


def test_float32_follows_float64(rng, tmp_path):
    n_steps = 400
    cfg = NetworkConfig(n_inputs=40, layer_sizes=(32, 24), readout_sizes=3, dropout=0.5, lr=2e-3,
                        weight_scale=2.0, reg_u=0.1, reg_rate=0.5, burnin_ms=20, seed=4)
    spikes = poisson(rng, n_steps, 40, 0.2)
    targets = [np.sin(np.arange(n_steps)[:, None] / 15 + np.arange(3))] * 2
    wide = _train("float64", tmp_path / "float64", spikes, targets, cfg)
    narrow = _train("float32", tmp_path / "float32", spikes, targets, cfg)
    devices.select("runtime", codegen_target="numpy")
    differing = []
    for a, b in zip(wide[0], narrow[0]):
        assert a.sum() > 100
        assert np.array_equal(a[:SAME_STEPS], b[:SAME_STEPS])
        differing.append(np.mean(a != b))
    assert max(differing) <= MAX_DIFFERING, differing
    print(f"fraction of differing spike entries per layer over {n_steps} steps: {[f'{d:.3f}' for d in differing]}")
    for name, w64 in wide[1].items():
        w32 = narrow[1][name]
        assert w32.dtype == np.float32 and w64.dtype == np.float64, name
        change = np.linalg.norm(w64 - wide[2][name])
        assert change > 1e-3, f"{name}: learning must have moved it"
        print(f"{name}: |w32 - w64| / |change| = {np.linalg.norm(w32 - w64) / change:.2g}")
        assert np.linalg.norm(w32 - w64) <= MAX_WEIGHT_DIFFERENCE * change, name


def test_bad_precision_is_a_clear_error():
    with pytest.raises(ConfigError, match="precision='float16'.*'float64', 'float32'"):
        devices.Target("cpp_standalone", "build", precision="float16")
    with pytest.raises(ConfigError, match="threads=2: OpenMP threads are a cpp_standalone setting"):
        devices.Target("runtime", threads=2)


def test_cuda_code_in_float32(rng, tmp_path):
    """brian2cuda 1.0b1 generates float kernels for float32 (state, constants, cuRAND's uniform
    numbers), with times kept double; without a GPU it is generated, not run (RESULTS.md)."""
    cfg = NetworkConfig(n_inputs=10, layer_sizes=(8, 6), readout_sizes=2, reg_rate=0.1, dropout=0.5)
    devices.select("cuda_standalone", build_dir=tmp_path / "cuda", precision="float32")
    dn = build_network(cfg, poisson(rng, 50, 10), [np.zeros((50, 2))] * 2)
    dn.run(seed=cfg.seed)
    devices.build(compile=False, run=False)
    devices.select("runtime", codegen_target="numpy")
    update = next((tmp_path / "cuda" / "code_objects").glob("decolle_layer2_synapses_w_update*.cu")).read_text()
    assert "float* _ptr_array_decolle_layer2_synapses_w" in update
    assert "const float adamax_decay" in update and "double* _ptr_array_decolle_layer2_t_sample" in update
    assert "curandGenerateUniform(" in (tmp_path / "cuda" / "rand.cu").read_text()
