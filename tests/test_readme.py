"""The README's promises: CI runs its test command verbatim, and its example runs and learns."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command():
    commands = re.findall(r"^    (python3 -m venv .*)$", README, flags=re.M)
    assert len(commands) == 2, "the README holds the install+main command and the test command"
    test_command = next(c for c in commands if "pytest" in c)
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith(("#", "set ", "cd "))]
    assert ci_lines == [test_command]
    assert "brian-decolle regression" in next(c for c in commands if "pytest" not in c)


def test_readme_example_runs_and_learns(tmp_path):
    example = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    assert len(example.splitlines()) < 30
    # same code, on the numpy target so that CI does not wait for Cython
    example = example.replace('devices.select("runtime")', 'devices.select("runtime", codegen_target="numpy")')
    out = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    losses = [tuple(map(float, m)) for m in re.findall(r"loss per step ([\d.]+) -> ([\d.]+)", out.stdout)]
    assert len(losses) == 2
    for first, last in losses:
        assert last < 0.5 * first, out.stdout
