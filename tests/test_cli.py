"""One command line for every study: options are config fields, defaults are the preset's."""
import dataclasses

import pytest

from brian_decolle import ConfigError, cli, events, gestures, mnist, regression

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

STUDIES = [regression.STUDY, mnist.STUDY, gestures.STUDY, events.STUDY]


def _compose(study, *argv):
    return cli.compose(study, cli.make_parser(study).parse_args(list(argv)))


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.name)
def test_no_option_gives_the_preset_and_every_option_is_a_field(study):
    assert _compose(study) == study.preset(study.presets[0])
    for option in study.options:
        part, name = option.split(".")
        assert name in {f.name for f in dataclasses.fields(getattr(study.preset(study.presets[0]), part))}


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.name)
def test_lr_zero_means_no_learning_in_every_study(study):
    assert _compose(study, "--lr", "0").network.lr == 0.0


def test_options_land_in_their_fields_of_the_chosen_preset():
    study = _compose(mnist.STUDY, "--network", "small", "--batch", "3", "--train-samples", "7", "--n-train", "20",
                     "--burnin-ms", "20", "--train-ms", "100")
    assert study.preset == "small" and len(study.network.conv_layers) == 2
    assert (study.network.batch, study.schedule.train_samples, study.data.n_train) == (3, 7, 20)
    assert study.network.burnin_ms == 20 and study.schedule.steps(study.network).train == 100
    assert study.network.lr == mnist.preset("small").network.lr  # untouched fields keep the preset's value


def test_sequence_options_take_one_value_or_one_per_layer():
    study = _compose(regression.STUDY, "--layer-sizes", "64", "64", "32", "--weight-scale", "5")
    assert study.network.layer_sizes == (64, 64, 32)
    assert [spec.weight_scale for spec in study.network.layers] == [5.0] * 3
    assert [spec.n_units for spec in study.network.layers] == [64, 64, 32]


@pytest.mark.parametrize("argv,message", [
    (("--dropout", "1.5"), "dropout=1.5 must lie in [0, 1)"),
    (("--layer-sizes", "64", "64"), "weight_scale=(30.0, 10.0, 10.0) must be one value or one per layer (2"),
    (("--layer-sizes", "64", "64", "--weight-scale", "5"), "must name 3 layers"),
    (("--epochs", "0"), "epochs=0 must be a positive integer"),
])
def test_bad_values_name_the_parameter(argv, message):
    with pytest.raises(ConfigError) as error:
        _compose(regression.STUDY, *argv)
    assert message in str(error.value)


def test_help_shows_every_default():
    text = " ".join(cli.make_parser(gestures.STUDY).format_help().split())
    for fragment in ("--lr LR", "(default: 0.00036)", "--data-dir DATA_DIR", "(default: data)", "--synthetic",
                     "(default: cpu)", "(default: cpp_standalone)"):
        assert fragment in text, fragment


def test_every_option_has_its_help_and_every_help_an_option():
    options = {option.split(".")[1] for study in STUDIES for option in study.options}
    assert set(cli.HELP) == options


@pytest.mark.parametrize("study", [mnist.STUDY, gestures.STUDY, events.STUDY], ids=lambda s: s.name)
def test_the_decolle_preset_sets_the_reference_recipe_and_options_still_win(study):
    composed = _compose(study, "--preset", "decolle", "--dropout", "0.2")
    for option, value in study.recipes["decolle"].items():
        part, name = option.split(".")
        if name != "dropout":
            assert getattr(getattr(composed, part), name) == value, option
    assert composed.network.dropout == 0.2   # an option given beside the preset changes it
    text = " ".join(cli.make_parser(study).format_help().split())
    assert "--preset {decolle}" in text and "'decolle' sets optimiser adamax" in text
