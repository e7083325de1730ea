"""NetworkConfig(neuron_equations=...): a user's neuron file replaces equations/neuron_{dynamics}.eqs."""
import re

import numpy as np
import pytest
from conftest import poisson

from brian_decolle import ConfigError, NetworkConfig, build_network, equations
from brian_decolle.config import NEURON_SECTIONS, ConvLayer, check_neuron_equations

pytestmark = pytest.mark.quick   # (the working subset: -m quick)


def default_file(dynamics):
    return equations._equations_dir() / f"neuron_{dynamics}.eqs"


def run_small(cfg, spikes):
    n = len(spikes)
    targets = [np.sin(np.linspace(0, 6, n))[:, None]] * cfg.n_layers
    dn = build_network(cfg, spikes, targets, sample_steps=n // 2, record_state=("u",), record_spikes=True)
    dn.run(seed=3)  # learning on, with dropout: the update path runs too
    return dn


@pytest.mark.parametrize("dynamics", ["discrete", "continuous"])
def test_an_unchanged_copy_of_the_default_neuron_gives_the_same_network(tmp_path, rng, dynamics):
    copy = tmp_path / "my_neuron.eqs"
    copy.write_text(default_file(dynamics).read_text())
    base = {"n_inputs": 30, "layer_sizes": (20, 15), "readout_sizes": 1, "dynamics": dynamics, "weight_scale": 4.0,
            "lr": 0.01, "dropout": 0.2, "seed": 5}
    spikes = poisson(rng, 200, 30, 0.2)
    ours = run_small(NetworkConfig(**base), spikes)
    theirs = run_small(NetworkConfig(**base, neuron_equations=str(copy)), spikes)
    for k in (1, 2):
        assert ours.spikes(k).sum() > 20, "the test needs active layers"
        assert np.array_equal(ours.spikes(k), theirs.spikes(k)), k
        assert np.array_equal(ours.state(k, "u"), theirs.state(k, "u")), k
    mine, default = theirs.learned_state(), ours.learned_state()
    assert mine.keys() == default.keys() and all(np.array_equal(mine[key], default[key]) for key in mine)


def test_a_changed_neuron_is_the_one_that_runs(tmp_path, rng):
    # the same neuron with a threshold of 0.3 instead of 0: it must spike less
    text = default_file("discrete").read_text().replace("### threshold\nu > 0\n", "### threshold\nu > 0.3\n")
    assert "u > 0.3" in text
    (tmp_path / "high.eqs").write_text(text)
    base = {"n_inputs": 30, "layer_sizes": (20,), "readout_sizes": 1, "weight_scale": 4.0, "lr": 0.0, "dropout": 0.0}
    spikes = poisson(rng, 200, 30, 0.2)
    low = run_small(NetworkConfig(**base), spikes).spikes(1).sum()
    high = run_small(NetworkConfig(**base, neuron_equations=str(tmp_path / "high.eqs")), spikes).spikes(1).sum()
    assert 0 < high < low


def test_the_path_is_stored_absolute_and_survives_to_dict(tmp_path, monkeypatch):
    (tmp_path / "n.eqs").write_text(default_file("discrete").read_text())
    monkeypatch.chdir(tmp_path)
    cfg = NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=1, neuron_equations="n.eqs")
    assert cfg.neuron_equations == str(tmp_path / "n.eqs")
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    assert NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=1).neuron_equations is None


def test_missing_file_or_sections_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"neuron_equations='nowhere.eqs': no such file"):
        NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=1, neuron_equations="nowhere.eqs")
    with pytest.raises(ConfigError, match=r"neuron_equations=3 must be the path"):
        check_neuron_equations(3)
    # the discrete neuron without its decay blocks
    text = default_file("discrete").read_text()
    cut = re.sub(r"### (input_)?decay\n.*?(?=###)", "", text, flags=re.DOTALL)
    (tmp_path / "no_decay.eqs").write_text(cut)
    with pytest.raises(ConfigError) as error:
        NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=1, neuron_equations=str(tmp_path / "no_decay.eqs"))
    message = str(error.value)
    assert "neuron_equations=" in message and "lacks section(s) decay, input_decay" in message
    assert all(f"### {name}" in message for name in NEURON_SECTIONS["discrete"])
    # ... which continuous dynamics do not read
    continuous = re.sub(r"### (input_)?decay\n.*?(?=###)", "", default_file("continuous").read_text(), flags=re.DOTALL)
    (tmp_path / "continuous.eqs").write_text(continuous)
    NetworkConfig(n_inputs=4, layer_sizes=(3,), readout_sizes=1, dynamics="continuous",
                  neuron_equations=str(tmp_path / "continuous.eqs"))


def test_a_max_pool_needs_the_spike_trace_section(tmp_path):
    text = default_file("discrete").read_text()
    (tmp_path / "no_trace.eqs").write_text(text.split("### spike_trace")[0])
    conv = {"n_inputs": 36, "input_shape": (1, 6, 6), "layer_sizes": (), "readout_sizes": 1,
            "neuron_equations": str(tmp_path / "no_trace.eqs")}
    NetworkConfig(**conv, conv_layers=(ConvLayer(2, kernel=3, pool=1),))
    with pytest.raises(ConfigError, match=r"lacks section\(s\) spike_trace.*with a max-pool"):
        NetworkConfig(**conv, conv_layers=(ConvLayer(2, kernel=3, pool=2),))


def test_an_edited_equations_file_is_read_again(tmp_path):
    import os

    from brian_decolle import equations
    path = tmp_path / "mine.eqs"
    path.write_text("### model\nu = isyn : 1\n")
    assert equations.sections(str(path))["model"] == "u = isyn : 1\n"
    path.write_text("### model\nu = isyn + b : 1\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a later edit, surely
    assert equations.sections(str(path))["model"] == "u = isyn + b : 1\n"
