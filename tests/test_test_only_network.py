"""A network built for testing only (plastic=False) holds none of the rule's code and gives the
forward pass and readouts of the plastic network exactly, also as a second build beside the plastic
one in the same process."""
import numpy as np
import pytest
from test_classification import CFG, SCHEDULE, Stripes

from brian_decolle import ConfigError, build_network
from brian_decolle.classifier import OnlineClassifier
from brian_decolle.devices import Target

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
        build_network(CFG, np.zeros((10, 288)), [np.zeros((10, 6))] * 2, plastic=False, record_kernels=("w",))
    # it counts the work of test runs only (learning off)
    counted = build_network(CFG, np.zeros((10, 288)), [np.zeros((10, 6))] * 2, plastic=False, count_operations=True)
    with pytest.raises(ConfigError, match="count_operations=True and plastic=True"):
        counted.synaptic_operations(10, learning=True)


@pytest.mark.parametrize("device", ["runtime", "cpp_standalone"])
def test_a_test_only_build_beside_the_plastic_one_tests_alike_bit_for_bit(tmp_path, device):
    """Two builds in one process, run in turn (standalone: two compiled projects, each re-run
    with new values): a learned state tests exactly alike on the plastic build (learn=False) and
    on the test-only build; a training run repeated after the other build ran gives the same
    state again; neither build folder keeps any run's run-args files."""
    source, steps = Stripes(), SCHEDULE.steps(CFG)

    def classifier(plastic, folder):
        return OnlineClassifier(CFG, source.n_classes, steps.test, n_raster=SCHEDULE.n_raster, plastic=plastic,
                                target=Target(device, build_dir=str(tmp_path / folder), codegen_target="numpy"))

    plastic, testing = classifier(True, "build"), classifier(False, "build_test")
    starts, no_label = np.eye(1, steps.test)[0], np.full((steps.test, CFG.batch), -1)
    train_x = np.concatenate([source.train_sample(b, steps.test, seed=b)[0] for b in range(CFG.batch)], axis=1)
    labels = np.repeat([[0, 1]], steps.test, axis=0)
    trained = plastic.run(train_x, labels, starts, plastic.initial_state(), learn=True, seed=5)[1]
    for index in range(0, source.n_test, CFG.batch):
        x = np.concatenate([source.test_sample(index + b, steps.test)[0] for b in range(CFG.batch)], axis=1)
        y, _, recording, activity = plastic.run(x, no_label, starts, trained, learn=False, seed=CFG.seed)
        y_test, _, recording_test, activity_test = testing.run(x, no_label, starts, trained, learn=False,
                                                               seed=CFG.seed)
        assert np.abs(y).max() > 0 and recording["layer1_spikes"].any()
        np.testing.assert_array_equal(y, y_test)
        for key in recording:
            np.testing.assert_array_equal(recording[key], recording_test[key], err_msg=key)
        for layer, layer_test in zip(activity, activity_test):
            # (the work is counted by the test-only build; a plastic build counts its learning runs)
            assert layer.pop("operations") is None and layer_test.pop("operations")["forward_operations"] > 0
            for key in layer:
                np.testing.assert_array_equal(layer[key], layer_test[key], err_msg=key)
    again = plastic.run(train_x, labels, starts, plastic.initial_state(), learn=True, seed=5)[1]
    assert any(np.abs(trained[k] - plastic.initial_state()[k]).max() > 0 for k in trained)
    for name in trained:
        np.testing.assert_array_equal(trained[name], again[name], err_msg=name)
    if device != "runtime":
        for folder in ("build", "build_test"):
            assert (tmp_path / folder / "main").is_file()
            assert not list((tmp_path / folder / "static_arrays").glob("init_*.dat")), folder
