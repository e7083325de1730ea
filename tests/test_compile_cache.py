"""The cache of compiled objects: a second build of the same code compiles nothing, and runs the same."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from brian_decolle import compile_cache

#: a small cpp_standalone project, built in each folder given in turn (each network dropped before the next
#: is built): it prints what the cache did and the result of each
BUILD = """
import json, sys
import brian2 as b2
from brian_decolle import codegen, devices
from brian_decolle.devices import Target

def built(folder):
    Target("cpp_standalone", folder).select()
    cells = b2.NeuronGroup(4, "x : 1", threshold="True", reset="", name="cells")
    links = b2.Synapses(cells, cells, "w : 1", on_pre="x_post += w", name="links")
    codegen.connect_blocks(links, 1, 4, 4)
    links.w = 0.5
    b2.Network(cells, links).run(1 * b2.ms)
    devices.build()
    return {"cache_use": b2.get_device().cache_use, "x": cells.x[:].tolist()}

print(json.dumps([built(folder) for folder in sys.argv[1:]]))
"""


def _compiles(log):
    """The project's compiles in a compiler log (Brian2 also tries its flags on files of its own)."""
    return [line for line in log.read_text().splitlines() if "-c" in line.split() and "brian_flag_test" not in line]


def _build(env, *folders):
    done = subprocess.run([sys.executable, "-c", BUILD, *map(str, folders)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_second_build_of_the_same_code_compiles_nothing_and_runs_alike(tmp_path):
    """The same network built in three folders, twice in one process (the first network dropped before the
    second is built) and once in another (as two runs of a study): the first build compiles every source and
    keeps its objects; the others copy them all in and only link (no compile, not even of the precompiled
    header: the compiler's log says so), and their programs compute the same."""
    log = tmp_path / "compiles.log"
    wrapper = tmp_path / "logged-g++"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec g++ "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, compile_cache.ENVIRONMENT: str(tmp_path / "cache"), "CXX": str(wrapper)}
    first, again = _build(env, tmp_path / "a", tmp_path / "a2")
    restored, kept = first["cache_use"]
    assert restored == 0 and kept >= 10
    assert len(list((tmp_path / "cache").glob("*/*.o"))) == kept
    assert len(_compiles(log)) == kept + 1   # (and the precompiled header), all for the first build
    assert again["cache_use"] == [kept, 0]
    log.unlink()
    [other] = _build(env, tmp_path / "b")
    assert other["cache_use"] == [kept, 0]
    assert not _compiles(log) and any("-o main" in line for line in log.read_text().splitlines())
    assert first["x"] == again["x"] == other["x"] == [20.0] * 4   # 10 steps of 4 spikes of 0.5
    # the keys are the same in both folders, a changed header changes every one, a changed source its own
    keys = compile_cache.keys_of(tmp_path / "a")
    assert compile_cache.keys_of(tmp_path / "b") == keys
    shutil.copytree(tmp_path / "a", tmp_path / "c")
    with open(tmp_path / "c" / "network.cpp", "a") as source:
        source.write("\n// changed\n")
    changed = compile_cache.keys_of(tmp_path / "c")
    assert [name for name in keys if changed[name] != keys[name]] == ["network.o"]
    with open(tmp_path / "c" / "objects.h", "a") as header:
        header.write("\n// changed\n")
    changed = compile_cache.keys_of(tmp_path / "c")
    assert all(changed[name] != keys[name] for name in keys)


def test_where_the_cache_is(monkeypatch, tmp_path):
    monkeypatch.setenv(compile_cache.ENVIRONMENT, "off")
    assert compile_cache.folder() is None
    monkeypatch.setenv(compile_cache.ENVIRONMENT, str(tmp_path / "x"))
    assert compile_cache.folder() == tmp_path / "x"
    monkeypatch.delenv(compile_cache.ENVIRONMENT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compile_cache.folder() == tmp_path / "xdg" / "brian-decolle" / "objects"


def test_the_cache_keeps_the_most_recently_used_objects_within_its_limit(tmp_path):
    now = time.time()
    for k in range(5):
        path = tmp_path / f"{k:02x}" / f"{k:02x}key.o"
        path.parent.mkdir()
        path.write_bytes(b"x" * 100)
        os.utime(path, (now - 100 + k, now - 100 + k))   # object 0 used longest ago
    compile_cache.prune(tmp_path, limit=300)
    assert sorted(p.name for p in tmp_path.glob("*/*.o")) == ["02key.o", "03key.o", "04key.o"]


def _project(folder):
    """A project as our makefile template lists it, with its objects 'compiled'."""
    folder.mkdir()
    (folder / "makefile").write_text("SRCS = a.cpp b.cpp\nH_SRCS = objects.h\n")
    for name in ("a.cpp", "b.cpp", "objects.h"):
        (folder / name).write_text(f"// {name}\n")
    for name in ("a.o", "b.o"):
        (folder / name).write_bytes(name.encode())
    return folder


def test_an_unwritable_cache_is_a_warning_and_the_build_goes_on(tmp_path):
    project = _project(tmp_path / "p")
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache's folder should be")
    objects = compile_cache.restore(project, blocked)
    assert objects.restored == [] and sorted(objects.keys) == ["a.o", "b.o"]
    with pytest.warns(UserWarning, match=r"not kept in .*cache .*BRIAN_DECOLLE_CACHE"):
        assert compile_cache.keep(objects, blocked) == 0
    assert (project / "a.o").read_bytes() == b"a.o"
    # a writable one keeps both, and gives them back to a project of the same code
    assert compile_cache.keep(objects, tmp_path / "ok") == 2
    for name in ("a.o", "b.o"):
        (project / name).unlink()
    assert compile_cache.restore(project, tmp_path / "ok").all_restored
    assert (project / "b.o").read_bytes() == b"b.o"
