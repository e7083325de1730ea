"""docs/api.md is what docs/make_api.py writes from the docstrings: the reference follows the code."""
import re
import runpy
from pathlib import Path

import pytest

pytestmark = pytest.mark.quick   # (the working subset: -m quick)

API = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_api_reference_is_current():
    render = runpy.run_path(str(API.parent / "make_api.py"))["render"]
    assert API.read_text() == render(), "run `python docs/make_api.py` and commit docs/api.md"


def test_network_docstring_lists_every_scheduled_operation():
    """network.py's table of one time step names every slot of build.SCHEDULE with its (slot, order)."""
    from brian_decolle import build, network
    rows = re.findall(r"^([a-z][a-z -]*?)\s{2,}([a-z]+),\s*(-?\d+)\s", network.__doc__, flags=re.MULTILINE)
    table = {name: (when, int(order)) for name, when, order in rows}
    for key, slot in build.SCHEDULE.items():
        name = {"pool": "max-pool"}.get(key, key.replace("_", " "))
        assert table.get(name) == slot, (key, slot, table)
