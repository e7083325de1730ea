"""A network built for testing only (plastic=False) holds none of the rule's code and gives the
forward pass and readouts of the plastic network exactly."""
import numpy as np
import pytest
from test_classification import CFG

from brian_decolle import ConfigError, build_network

# the rule's runners and synapses (the readout's own error runner stays: it gives yhat and the loss)
RULE = ("_update", "_kernel_gradient", "_error")


def test_no_rule_code_and_the_same_readouts(rng):
    spikes = (rng.random((40, 2 * 144)) < 0.2).astype(float)
    targets = [np.zeros((40, 6))] * 2
    ys, names = {}, {}
    for plastic in (True, False):
        dn = build_network(CFG, spikes, targets, plastic=plastic, name=f"net{int(plastic)}")
        dn.run(learn=False)
        ys[plastic] = [dn.readout(k, "y") for k in (1, 2)]
        names[plastic] = {obj.name for obj in dn.network.objects} | {
            obj.name for group in dn.network.objects for obj in getattr(group, "contained_objects", [])}
    rule = {n for n in names[True] if any(part in n for part in RULE) and "readout_error" not in n}
    assert {"net1_layer1_kernel_w_update", "net1_layer1_kernel_gradient", "net1_layer2_error"} <= rule
    assert not {n.replace("net1", "net0") for n in rule} & names[False]
    for a, b in zip(ys[True], ys[False]):
        np.testing.assert_array_equal(a, b)


def test_learning_on_a_test_only_network_is_refused(rng):
    dn = build_network(CFG, np.zeros((10, 288)), [np.zeros((10, 6))] * 2, plastic=False)
    with pytest.raises(ConfigError, match="built for testing only"):
        dn.run(learn=True)
    with pytest.raises(ConfigError, match="plastic=False"):
        build_network(CFG, np.zeros((10, 288)), [np.zeros((10, 6))] * 2, plastic=False, count_operations=True)
