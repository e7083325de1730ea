"""Compiled objects of cpp_standalone projects, kept for the next build of the same code.

A study run twice, with another seed, learning rate or output folder, generates the same C++ project
(the values are run arguments, not code) and compiled all of it again. The makefile
(``brian_decolle/templates/makefile``) compiles each source into an object; before make runs, every object
whose inputs were compiled before is copied from this cache into the project, and make compiles only the
others; after it, the new objects are kept. An object's key is a hash of everything its compile reads from
the project and of the compiler: the source, every header of the project (objects.h changes with the
network), the makefile (the flags), the compiler's name and version (the system's headers come with it)
and the environment variables make reads, and the processor (Brian2 compiles with -march=native). Keys of
the same code match across folders and processes, and in one process once the network built before is gone
(Brian2 numbers a code object's name while one of that name is alive; ``devices.Target.select`` collects
dropped networks first).

Where: ``$BRIAN_DECOLLE_CACHE``, else ``$XDG_CACHE_HOME/brian-decolle/objects``, else
``~/.cache/brian-decolle/objects``; ``BRIAN_DECOLLE_CACHE=off`` keeps nothing. The least recently used
objects go once the folder holds more than :data:`LIMIT_BYTES`.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

#: the environment variable that names the cache's folder ('off': no cache)
ENVIRONMENT = "BRIAN_DECOLLE_CACHE"
#: the most the cache's folder holds (the objects of one MNIST small project: about 10 MB)
LIMIT_BYTES = 2 * 1024 ** 3
#: the environment variables that can change what make compiles
MAKE_ENVIRONMENT = ("CXX", "CC", "CPPFLAGS", "CFLAGS", "CXXFLAGS", "TARGET_ARCH")


def folder() -> Path | None:
    """The cache's folder, or None where ``BRIAN_DECOLLE_CACHE=off``."""
    named = os.environ.get(ENVIRONMENT)
    if named == "off":
        return None
    if named:
        return Path(named)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "brian-decolle" / "objects"


def _output(*command: str) -> bytes:
    try:
        return subprocess.run(command, capture_output=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return b""


@functools.lru_cache(maxsize=4)
def _compiler(cxx: str, cc: str) -> bytes:
    """What identifies the compilers make calls: names, paths, versions, and what -march=native means on this
    machine (Brian2's flags have it: an object made for another processor may not run on this one, where
    machines share a home folder)."""
    parts = [f"{name}|{shutil.which(name)}|".encode() + _output(name, "--version") for name in (cxx, cc)]
    parts.append(_output(cxx, "-march=native", "-Q", "--help=target"))
    return b"\0".join(parts)


def _makefile_list(makefile: str, name: str) -> list[str]:
    """The files a makefile variable ``NAME = a b c`` lists (our template writes each on one line)."""
    for line in makefile.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.split()
    raise ValueError(f"the makefile has no {name} line")


@dataclass
class Objects:
    """One project's objects and their keys; ``restored``: those copied from the cache."""

    project: Path
    keys: dict[str, str]   # object file (relative to the project) -> its key
    restored: list[str] = field(default_factory=list)

    @property
    def all_restored(self) -> bool:
        return len(self.restored) == len(self.keys)


def keys_of(project) -> dict[str, str]:
    """The key of each object the project's makefile compiles."""
    project = Path(project)
    makefile = (project / "makefile").read_bytes()
    text = makefile.decode()
    common = hashlib.sha256(b"brian-decolle objects 1\0")
    common.update(_compiler(os.environ.get("CXX", "g++"), os.environ.get("CC", "cc")))
    for name in MAKE_ENVIRONMENT:   # (make's implicit rules read them; a makefile's own setting wins)
        common.update(f"\0{name}={os.environ.get(name)}".encode())
    common.update(makefile)
    for header in sorted(_makefile_list(text, "H_SRCS")):
        common.update(b"\0" + header.encode() + b"\0" + (project / header).read_bytes())
    keys = {}
    for source in _makefile_list(text, "SRCS"):
        digest = common.copy()
        digest.update(b"\0" + source.encode() + b"\0" + (project / source).read_bytes())
        keys[str(Path(source).with_suffix(".o"))] = digest.hexdigest()
    return keys


def restore(project, cache: Path) -> Objects:
    """Copy every object of the project that the cache holds into it, newer than its sources, so that
    make leaves it be."""
    objects = Objects(Path(project), keys_of(project))
    now = time.time()
    for name, key in objects.keys.items():
        kept = cache / key[:2] / f"{key}.o"
        try:
            shutil.copyfile(kept, objects.project / name)
        except OSError:   # (not kept, pruned meanwhile, or the cache unreadable: make compiles it)
            continue
        os.utime(objects.project / name, (now, now))
        os.utime(kept, (now, now))   # (recently used: pruned last)
        objects.restored.append(name)
    return objects


def keep(objects: Objects, cache: Path) -> int:
    """Put the project's objects that make compiled into the cache; then prune it. Returns how many. A cache
    that cannot be written (a full disk, no permission) is a warning: the build itself is done."""
    kept = 0
    try:
        for name, key in objects.keys.items():
            target = cache / key[:2] / f"{key}.o"
            if name in objects.restored or target.exists() or not (objects.project / name).is_file():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # (written aside, then renamed: another process reading the cache never sees half an object)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            os.close(handle)
            try:
                shutil.copyfile(objects.project / name, temporary)
                os.replace(temporary, target)
            finally:
                Path(temporary).unlink(missing_ok=True)
            kept += 1
        if kept:   # (the cache only grows here)
            prune(cache)
    except OSError as err:
        warnings.warn(f"compiled objects were not kept in {cache} ({err}); set {ENVIRONMENT} to another folder, "
                      f"or to 'off'", stacklevel=2)
    return kept


def prune(cache: Path, limit: int = LIMIT_BYTES) -> None:
    """Delete the least recently used objects until the cache holds at most ``limit`` bytes."""
    files = []
    for path in cache.glob("*/*.o"):
        try:
            status = path.stat()
        except FileNotFoundError:   # (pruned by another process meanwhile)
            continue
        files.append((status.st_mtime, status.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= limit:
            break
        path.unlink(missing_ok=True)
        total -= size
