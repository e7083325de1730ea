"""The sdist and wheel: they build without warnings, pass `twine check`, hold the equations, the
figures, the bundled digits, the licences and the command, and the wheel works outside the checkout."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "WARNING" not in built.stdout + built.stderr, (built.stdout + built.stderr)[-3000:]
    return out


def test_sdist_and_wheel_pass_twine_check(dist):
    files = sorted(dist.iterdir())
    assert sorted(f.suffix for f in files) == [".gz", ".whl"]
    checked = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, files)],
                             capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_wheel_holds_what_the_package_reads(dist):
    names = zipfile.ZipFile(next(dist.glob("*.whl"))).namelist()
    eqs = {Path(n).name for n in names if n.startswith("brian_decolle/eqs/")}
    assert eqs == {p.name for p in (ROOT / "equations").glob("*.eqs")}
    for needed in ("brian_decolle/figures/classification.py", "brian_decolle/figures/regression.py",
                   "brian_decolle/data/mnist_5k/digits-images-idx3-ubyte.gz", "brian_decolle/commands.py"):
        assert needed in names, needed
    assert any(n.endswith("licenses/LICENSE") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "brian-decolle = brian_decolle.commands:main" in zipfile.ZipFile(next(dist.glob("*.whl"))).read(
        entry).decode()


def test_installed_wheel_reads_its_equations_and_digits_outside_the_checkout(dist, tmp_path):
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                                str(target), str(next(dist.glob("*.whl")))], capture_output=True, text=True,
                               timeout=300)
    assert installed.returncode == 0, installed.stderr[-2000:]
    code = ("import brian_decolle, brian_decolle.equations as eq; from brian_decolle.data import mnist; "
            "images, labels = mnist.load_digits(); print(brian_decolle.__file__); "
            "print(len(eq.sections('neuron_discrete.eqs')), images.shape)")
    run = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {code}"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    where, counts = run.stdout.split("\n")[:2]
    assert where.startswith(str(target)) and counts.endswith("(5000, 28, 28)")
