"""(e) Bad configurations and inputs raise a ConfigError that names the parameter."""
import numpy as np
import pytest

from brian_decolle import ConfigError, NetworkConfig, build_network, devices

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

GOOD = dict(n_inputs=4, layer_sizes=(3,), readout_sizes=2)

BAD_CONFIGS = [
    ({"tau_mem_ms": 0.0, "dynamics": "continuous"}, "tau_mem_ms"),
    ({"tau_syn_ms": -5.0}, "tau_syn_ms"),
    ({"tau_ref_ms": float("nan")}, "tau_ref_ms"),
    ({"dt_ms": 0}, "dt_ms"),
    ({"alpha": 1.0}, "alpha"),
    ({"alpha_s": 0.0}, "alpha_s"),
    ({"surrogate": "tanh"}, "surrogate"),
    ({"loss": "cross_entropy"}, "loss"),
    ({"optimiser": "adagrad"}, "optimiser"),
    ({"adam_beta1": 1.0}, "adam_beta1"),
    ({"adam_beta2": 0.0}, "adam_beta2"),
    ({"adam_eps": 0.0}, "adam_eps"),
    ({"optimiser": "adam", "update_every": "sample"}, "update_every"),
    ({"optimiser": "sgd_momentum", "update_every": "sample"}, "update_every"),
    ({"momentum": 1.0}, "momentum"),
    ({"readout_input": "voltage"}, "readout_input"),
    ({"dynamics": "stochastic"}, "dynamics"),
    ({"layer_sizes": ()}, "layer_sizes"),
    ({"layer_sizes": (3, 0)}, "layer_sizes[1]"),
    ({"readout_sizes": (2, 2)}, "readout_sizes"),
    ({"n_inputs": -1}, "n_inputs"),
    ({"lr": -1e-3}, "lr"),
    ({"reg_rate": -0.1}, "reg_rate"),
    ({"dropout": 1.0}, "dropout"),
    ({"burnin_ms": -10}, "burnin_ms"),
    ({"tau_range_ms": (35, 10)}, "tau_range_ms"),
    ({"dynamics": "continuous", "tau_mem_ms": 10.0, "tau_syn_ms": 10.0}, "tau_mem_ms"),
    ({"seed": -3}, "seed"),
    ({"bias": (True, False)}, "bias"),      # one flag per layer: 1 layer here
    ({"bias": 1}, "bias"),
    ({"bias": (None,)}, "bias[0]"),
]


@pytest.mark.parametrize("change,name", BAD_CONFIGS)
def test_bad_config_names_the_parameter(change, name):
    with pytest.raises(ConfigError) as info:
        NetworkConfig(**{**GOOD, **change})
    assert name in str(info.value)


def test_unknown_choice_lists_the_allowed_values():
    with pytest.raises(ConfigError, match="'sigmoid', 'fast_sigmoid', 'box'"):
        NetworkConfig(**GOOD, surrogate="relu")


def test_unknown_parameter_in_a_saved_config():
    with pytest.raises(ConfigError, match="learning_rate"):
        NetworkConfig.from_dict({**GOOD, "learning_rate": 0.1})


@pytest.mark.parametrize("spikes,targets,name", [
    (np.zeros((10, 5)), [np.zeros((10, 2))], "spikes"),                 # wrong number of inputs
    (np.zeros(10), [np.zeros((10, 2))], "spikes"),                      # not 2-D
    (np.full((10, 4), 0.5), [np.zeros((10, 2))], "spikes"),             # not 0/1
    (np.zeros((10, 4)), [np.zeros((10, 3))], "targets[0]"),             # wrong readout size
    (np.zeros((10, 4)), [np.zeros((9, 2))], "targets[0]"),              # wrong length
    (np.zeros((10, 4)), [np.zeros((10, 2)), np.zeros((10, 2))], "targets"),  # one too many
    (np.zeros((10, 4)), [np.full((10, 2), np.nan)], "targets[0]"),
])
def test_bad_input_shapes_name_the_argument(spikes, targets, name):
    with pytest.raises(ConfigError) as info:
        build_network(NetworkConfig(**GOOD), spikes, targets)
    assert name in str(info.value)


@pytest.mark.parametrize("option", ["record_state", "record_prepool", "record_kernels", "record_readout",
                                    "record_synapses"])
def test_unknown_recorded_variable(option):
    with pytest.raises(ConfigError, match=f"{option}.*voltage"):
        build_network(NetworkConfig(**GOOD), np.zeros((5, 4)), [np.zeros((5, 2))], **{option: ("voltage",)})


def test_unknown_device():
    with pytest.raises(ConfigError, match="device='gpu'.*'runtime', 'cpp_standalone', 'cuda_standalone'"):
        devices.select("gpu")


def test_running_past_the_input_is_refused():
    dn = build_network(NetworkConfig(**GOOD), np.zeros((5, 4)), [np.zeros((5, 2))])
    dn.run(3)
    with pytest.raises(ConfigError, match="2 of the input's 5 steps are left"):
        dn.run(3)
    dn.run()
