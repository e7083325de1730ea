"""Load the model's equations from the annotated files in ``equations/``.

A file is split into sections by lines ``### name``. Equations keep their
comments (Brian2 reads them); in code blocks (run_regularly, reset, on_pre)
whole-line comments are dropped because Brian2's statement parser refuses
them. ``$name`` placeholders are filled with ``string.Template``.
"""
from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path
from string import Template


def _equations_dir() -> Path:
    # installed wheel: brian_decolle/eqs (a copy of equations/); source checkout: <repo>/equations
    packaged = resources.files("brian_decolle").joinpath("eqs")
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "equations"


def sections(filename: str) -> dict[str, str]:
    """All sections of one equations file, by name, with their raw text. ``filename`` is a name in
    equations/ or a path (a user's own file: an edit is read at the next build of the session)."""
    path = _equations_dir() / filename
    return _sections(path, path.stat().st_mtime_ns)


@functools.cache
def _sections(path: Path, mtime_ns: int) -> dict[str, str]:
    text = path.read_text()
    found: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        header = re.match(r"^###\s+(\w+)", line)
        if header:
            current = header.group(1)
            found[current] = []
        elif current is not None:
            found[current].append(line)
    return {name: "\n".join(lines).strip() + "\n" for name, lines in found.items()}


def _strip_comment_lines(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")) + "\n"


def code(filename: str, name: str, **subs) -> str:
    """A code block (or an equation block) with placeholders filled."""
    return Template(_strip_comment_lines(sections(filename)[name])).substitute(**subs)


def expressions(filename: str, name: str) -> dict[str, str]:
    """A section of ``key = expression`` lines (surrogates, losses) as a dict."""
    out = {}
    for line in _strip_comment_lines(sections(filename)[name]).splitlines():
        key, expr = line.split("=", 1)
        out[key.strip()] = expr.strip()
    return out
