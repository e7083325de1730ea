"""docs/tutorial.md: its ```python blocks, in order, run as one script and do what the text says."""
import math
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text()


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_tutorial_runs_writes_its_figures_and_prints_finite_fits(tmp_path):
    blocks = python_blocks(TUTORIAL)
    assert len(blocks) >= 5, "setup, task, training, figures, own neuron, own data"
    script = tmp_path / "tutorial.py"
    script.write_text("\n".join(blocks))
    # cwd tmp_path: the tutorial writes everything relative to the current folder
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    figures = sorted(set(re.findall(r"tutorial_output/\w+\.png", TUTORIAL)))
    assert len(figures) == 3, figures
    for name in figures:
        assert (tmp_path / name).is_file() and (tmp_path / name).stat().st_size > 1000, name

    # one line per layer: 3 (regression) + 3 (adaptive neuron) + 2 (own data)
    fits = re.findall(r"^(.+) layer (\d): train NMSE epoch 1 = (\S+), epoch \d+ = (\S+); learning off = (\S+)$",
                      done.stdout, flags=re.MULTILINE)
    assert [(what, int(k)) for what, k, *_ in fits] == [
        ("regression", 1), ("regression", 2), ("regression", 3), ("adaptive", 1), ("adaptive", 2),
        ("adaptive", 3), ("my data", 1), ("my data", 2)], done.stdout
    for *_, first, last, off in fits:
        assert all(math.isfinite(float(x)) and float(x) >= 0 for x in (first, last, off)), done.stdout
    assert "adapt is one of its variables: True" in done.stdout
    rates = dict(re.findall(r"^(\w+) +neuron: layer 1 fires ([\d.]+) Hz", done.stdout, flags=re.MULTILINE))
    assert set(rates) == {"default", "adaptive"} and float(rates["adaptive"]) < float(rates["default"]), done.stdout
