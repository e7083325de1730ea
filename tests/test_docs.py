"""docs/api.md is what docs/make_api.py writes from the docstrings: the reference follows the code."""
import runpy
from pathlib import Path

API = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_api_reference_is_current():
    render = runpy.run_path(str(API.parent / "make_api.py"))["render"]
    assert API.read_text() == render(), "run `python docs/make_api.py` and commit docs/api.md"
