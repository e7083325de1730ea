"""Write docs/api.md, the API reference, from the docstrings: `python docs/make_api.py`.

Every public function and class defined in the modules below is listed with its signature and
the first paragraph of its docstring (classes with their public methods). tests/test_docs.py
checks that docs/api.md is what this script writes, so the reference follows the code.
"""
from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

MODULES = (
    "brian_decolle.checks", "brian_decolle.config", "brian_decolle.network", "brian_decolle.devices",
    "brian_decolle.equations",
    "brian_decolle.build", "brian_decolle.convolution", "brian_decolle.classifier", "brian_decolle.training",
    "brian_decolle.initialisation", "brian_decolle.health", "brian_decolle.results", "brian_decolle.progress",
    "brian_decolle.codegen", "brian_decolle.compile_cache", "brian_decolle.stopping", "brian_decolle.cli", "brian_decolle.commands",
    "brian_decolle.regression", "brian_decolle.mnist",
    "brian_decolle.gestures", "brian_decolle.events", "brian_decolle.data.mnist", "brian_decolle.data.gestures",
    "brian_decolle.data.events",
    "brian_decolle.data.synthetic_gestures", "brian_decolle.nir_graph", "brian_decolle.decolle_public",
    "brian_decolle.derive", "brian_decolle.sweep", "brian_decolle.runargs",
    "brian_decolle.figures", "brian_decolle.figures.regression", "brian_decolle.figures.classification",
    "brian_decolle.figures.sweep",
)
OUT = Path(__file__).resolve().parent / "api.md"


def first_paragraph(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def signature(obj) -> str:
    try:
        text = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    return re.sub(r" at 0x[0-9a-f]+", "", text)   # function defaults print their address


def public(module) -> list:
    return [(name, obj) for name, obj in vars(module).items()
            if not name.startswith("_") and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module.__name__]


def render() -> str:
    lines = ["# API reference", "",
             "Written by `python docs/make_api.py` from the docstrings; `tests/test_docs.py` checks it is current.",
             ""]
    for name in MODULES:
        module = importlib.import_module(name)
        lines += [f"## `{name}`", "", first_paragraph(module), ""]
        for item, obj in public(module):
            kind = "class" if inspect.isclass(obj) else "def"
            lines += [f"- **{kind} `{item}{signature(obj)}`**: {first_paragraph(obj)}"]
            if inspect.isclass(obj):
                for method, member in vars(obj).items():
                    if not method.startswith("_") and inspect.isfunction(member):
                        lines.append(f"  - `{method}{signature(member)}`: {first_paragraph(member)}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}", file=sys.stderr)
