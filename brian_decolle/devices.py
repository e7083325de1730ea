"""Where the model runs: Brian2's runtime (numpy/cython) or generated C++/CUDA.

Brian2 keeps its device and preferences process-wide; this module is the one
place that sets them, so the model code stays the same on every target.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import brian2 as b2

from .config import ConfigError

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
CODEGEN_TARGETS = ("cython", "numpy")


def select(device: str = "runtime", build_dir: str | None = None, codegen_target: str = "cython") -> None:
    """Make ``device`` the target of the next network build (float64 everywhere)."""
    if device not in DEVICES:
        raise ConfigError(f"device={device!r} is not allowed; choose one of {', '.join(map(repr, DEVICES))}")
    if codegen_target not in CODEGEN_TARGETS:
        raise ConfigError(f"codegen_target={codegen_target!r} is not allowed; choose one of "
                          f"{', '.join(map(repr, CODEGEN_TARGETS))}")
    if device != "runtime" and not build_dir:
        raise ConfigError(f"device={device!r} needs a build_dir for the generated project")
    b2.prefs.core.default_float_dtype = b2.float64
    b2.device.reinit()
    if device == "runtime":
        b2.set_device("runtime")
        b2.prefs.codegen.target = codegen_target
        return
    if device == "cuda_standalone":
        _prepare_cuda(Path(build_dir))
    b2.set_device(device, directory=str(build_dir), build_on_run=False)


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None


def _prepare_cuda(build_dir: Path) -> None:
    try:
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
    except ImportError as exc:
        raise ConfigError("device='cuda_standalone' needs brian2cuda: pip install --pre '.[cuda]'") from exc
    # brian2cuda 1.0b1 asks for C++11; the Thrust of CUDA >= 12 needs C++17
    flags = [f for f in b2.prefs.codegen.cpp.extra_compile_args_gcc if f != "-std=c++11"]
    b2.prefs.codegen.cpp.extra_compile_args_gcc = _with(flags, "-std=c++17")
    backend = b2.prefs.devices.cuda_standalone.cuda_backend
    curand = _curand_wheel()
    backend.extra_compile_args_nvcc = _with(backend.extra_compile_args_nvcc, "-std=c++17",
                                            *([f"-I{curand / 'include'}"] if curand else []))
    if curand:
        # the wheel ships only libcurand.so.<N>; the linker's -lcurand needs a libcurand.so
        link_dir = build_dir / "curand_link"
        link_dir.mkdir(parents=True, exist_ok=True)
        link = link_dir / "libcurand.so"
        if not link.exists():
            link.symlink_to(sorted((curand / "lib").glob("libcurand.so.*"))[0])
        cpp = b2.prefs.codegen.cpp
        cpp.library_dirs = _with(cpp.library_dirs, str(link_dir))
        cpp.runtime_library_dirs = _with(cpp.runtime_library_dirs, str(curand / "lib"))
    if not has_gpu():
        # no GPU to ask: generate code for an H100-class GPU and CUDA 13 (it can be built elsewhere)
        backend.detect_gpus = False
        backend.detect_cuda = False
        backend.gpu_id = 0
        backend.compute_capability = 9.0
        backend.cuda_runtime_version = 13.0


def _with(values, *extra) -> list:
    """values (a preference list) plus those of extra it lacks."""
    values = list(values)
    return values + [v for v in extra if v not in values]


def _curand_wheel() -> Path | None:
    """The nvidia-curand wheel's folder (include/, lib/), for CUDA toolkits installed without cuRAND."""
    try:
        import nvidia
    except ImportError:
        return None
    found = sorted(h.parent.parent for root in nvidia.__path__ for h in Path(root).glob("*/include/curand.h"))
    return found[0] if found else None


#: environment variable through which a compiled C++ project takes a new seed for each run
SEED_VARIABLE = "BRIAN_DECOLLE_SEED"


def seed(value: int) -> None:
    """Seed Brian2's random numbers (dropout masks). On cpp_standalone the compiled
    program also reads SEED_VARIABLE, so that ``run_again`` can give every run of one
    build its own repeatable seed."""
    b2.seed(value)
    if b2.get_device().__class__.__name__ == "CPPStandaloneDevice":
        threads = max(1, b2.prefs.devices.cpp_standalone.openmp_threads)
        b2.device.insert_code("main", (
            f'if (const char* _seed = getenv("{SEED_VARIABLE}")) '
            f"for (int _i = 0; _i < {threads}; _i++) brian::_random_generators[_i].seed(atol(_seed) + _i);"))


def run_again(run_args: dict, seed: int | None = None) -> None:
    """Run a compiled standalone project once more with new values (inputs, weights,
    parameters) and, on cpp_standalone, a new seed; no recompilation. The files
    holding those values are deleted afterwards, so that the build folder keeps
    its size however many runs follow (results are overwritten by each run)."""
    previous = os.environ.get(SEED_VARIABLE)
    if seed is not None:
        os.environ[SEED_VARIABLE] = str(int(seed))
    try:
        b2.device.run(run_args=run_args)
    finally:
        b2.device.delete(code=False, data=False, run_args=True, directory=False)
        if previous is None:
            os.environ.pop(SEED_VARIABLE, None)
        else:
            os.environ[SEED_VARIABLE] = previous


def is_standalone() -> bool:
    return b2.get_device().__class__.__name__ != "RuntimeDevice"


def build(run: bool = True, compile: bool = True) -> None:
    """Compile and run a standalone project after ``Network.run`` was called; no-op on runtime."""
    if is_standalone():
        if run and b2.get_device().__class__.__name__ == "CUDAStandaloneDevice" and not has_gpu():
            raise ConfigError("device='cuda_standalone' needs an NVIDIA GPU to run and none was found "
                              "(no nvidia-smi); choose 'cpp_standalone' or 'runtime' here")
        options = dict(b2.device.build_options)
        options.update(compile=compile, run=run)
        b2.device.build(**options)
