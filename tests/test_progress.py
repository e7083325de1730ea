"""Progress: bars with rate and ETA, also written into a log file, and build lines with times."""
import io
import sys

import pytest

from brian_decolle import progress

pytestmark = pytest.mark.quick   # (the working subset: -m quick)


def test_bar_shows_rate_and_eta_in_a_log(monkeypatch):
    log = io.StringIO()   # stderr into a log file: not a terminal
    monkeypatch.setattr(sys, "stderr", log)
    monkeypatch.setattr(progress, "LOG_INTERVAL_S", 0.0)
    shown = progress.bar(4, "test")
    for _ in range(4):
        shown.update(1)
    shown.close()
    text = log.getvalue()
    assert "test: 100%" in text and "4/4" in text and "sample/s" in text and "<00:00" in text


def test_building_says_what_and_how_long():
    lines = []
    with progress.building("the network", "cpp_standalone", lines.append):
        pass
    assert lines[0] == "building the network for cpp_standalone: about 15-60 s on 2 cores ..."
    assert lines[1].startswith("built the network in ") and lines[1].endswith(" s")


def test_runtime_simulations_get_a_bar_standalone_ones_print_text():
    assert progress.simulation_report("cpp_standalone") == "text"
    report = progress.simulation_report("runtime", "training")
    report(0.0, 0.0, 0.0, 1.0)
    report(1.0, 1.0, 0.0, 1.0)   # closes its bar; a next run gets a new one
    report(0.0, 0.0, 0.0, 1.0)
