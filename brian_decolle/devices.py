"""Where the model runs: Brian2's runtime (numpy/cython) or generated C++/CUDA.

Brian2 keeps its device and preferences process-wide; this module is the one
place that sets them, so the model code stays the same on every target. A
:class:`Target` names everything about where and how a network runs (device,
build folder, code generation, float precision, threads); ``Target.select()``
makes it current.
"""
from __future__ import annotations

import dataclasses
import errno
import gc
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import brian2 as b2
import numpy as np
from brian2.codegen import translation
from brian2.codegen.generators import base as generators_base
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.devices.device import all_devices, previous_devices

from .codegen import DecolleStandaloneDevice, PrecompiledStandaloneDevice
from .checks import ConfigError, check_choice, check_index

DEVICES = ("runtime", "cpp_standalone", "cuda_standalone")
CODEGEN_TARGETS = ("cython", "numpy")
#: cpp_standalone's per-synapse loops: 'blocked' for synapses that declare their layout
#: (brian_decolle.codegen: indices computed, not loaded), or Brian2's 'generic' loops for all
LOOPS = ("blocked", "generic")
#: Brian2's float type of every state variable: traces, weights, optimiser state
#: (time itself stays float64 in Brian2)
PRECISIONS = {"float64": np.float64, "float32": np.float32}


@dataclass(frozen=True)
class Target:
    """Where and how a network runs; checked when made.

    device: 'runtime', 'cpp_standalone' or 'cuda_standalone'; build_dir: the generated
    project's folder (standalone devices; studies default to OUT/build); codegen_target:
    'cython' or 'numpy' on the runtime device; precision: 'float64' (the default, and the
    oracles') or 'float32'; threads: OpenMP threads of cpp_standalone (0: no OpenMP); loops:
    cpp_standalone's loops over declared synapses, 'blocked' (the default) or Brian2's 'generic' ones.
    """

    device: str = "cpp_standalone"
    build_dir: str | None = None
    codegen_target: str = "cython"
    precision: str = "float64"
    threads: int = 0
    loops: str = "blocked"

    def __post_init__(self):
        check_target(self)

    def select(self) -> None:
        """Make this the target of the next network build. A standalone target gets a device of
        its own, so that a project built before stays usable beside the new one: make that one
        current again (:func:`activate`) before re-running it or reading its results."""
        if self.device != "runtime" and not self.build_dir:
            raise ConfigError(f"device={self.device!r} needs a build_dir for the generated project")
        b2.prefs.core.default_float_dtype = PRECISIONS[self.precision]
        b2.prefs.devices.cpp_standalone.openmp_threads = self.threads
        _uncached_statements()
        if self.device == "runtime":
            _make_current(all_devices["runtime"], build_on_run=True)
            b2.prefs.codegen.target = self.codegen_target
            return
        # Brian2's one registered instance per device name holds one project at a time (reinit()
        # clears it); a new instance of its class holds this build's arrays, code objects and folder
        if self.device == "cuda_standalone":
            _prepare_cuda(Path(self.build_dir))
            device = type(all_devices[self.device])()
        else:
            device = DecolleStandaloneDevice() if self.loops == "blocked" else PrecompiledStandaloneDevice()
        _make_current(device, build_on_run=False, directory=str(self.build_dir))
        # Brian2 names a code object apart from every one still alive, and networks dropped before (with the
        # device that was current) linger in reference cycles: once they are gone, this build's code is named,
        # and so generated, as in a fresh process, and brian_decolle.compile_cache finds its objects
        gc.collect()

    def with_build_dir(self, default) -> "Target":
        """This target, building in ``default`` unless it names its own folder."""
        return self if self.build_dir else dataclasses.replace(self, build_dir=str(default))

    def for_testing(self) -> "Target":
        """This target, building in the folder beside its own that holds a test-only build (OUT/build ->
        OUT/build_test)."""
        folder = Path(self.build_dir).resolve()
        return dataclasses.replace(self, build_dir=str(folder.with_name(f"{folder.name}_test")))

    def describe(self) -> dict:
        """What results record of it (the build folder is not a result)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "build_dir"}


def check_target(target: Target) -> None:
    check_choice("device", target.device, DEVICES)
    check_choice("codegen_target", target.codegen_target, CODEGEN_TARGETS)
    check_choice("precision", target.precision, tuple(PRECISIONS))
    check_index("threads", target.threads)
    check_choice("loops", target.loops, LOOPS)
    if target.threads and target.device != "cpp_standalone":
        raise ConfigError(f"threads={target.threads}: OpenMP threads are a cpp_standalone setting; "
                          f"use threads=0 with device={target.device!r}")


def activate(device) -> None:
    """Make a standalone device that holds a built project (``b2.get_device()`` after its build)
    current again, with its own build folder: Brian2 re-runs a project and reads its results
    through the current device, so a process holding two builds makes the right one current
    first. A no-op when it is current already."""
    if b2.get_device() is not device:
        _make_current(device, build_on_run=device.build_on_run, **device.build_options)


def _uncached_statements() -> None:
    """Brian2 translates every code block through ``make_statements``, which it caches under a key made of
    the block's whole variables dict, hashed attribute by attribute on every call. A network of this
    package's size holds hundreds of variables: making a key costs far more than the translation it saves.
    On the runtime device, which builds a network for every run, the keys took two thirds of a run's time
    (a small conv network's train_and_test: 35 s, of which 23 s making keys for 1383 calls, 1143 of them
    hits; 12.7 s without the cache, the 1383 translations taking 3 s). The translation is unchanged: the
    function is the same one, called without its cache."""
    plain = getattr(translation.make_statements, "__wrapped__", None)
    if plain is not None:
        for module in (translation, generators_base):
            module.make_statements = plain


def _make_current(device, **options) -> None:
    depth = len(previous_devices)
    b2.set_device(device, **options)
    # set_device keeps the device before on a stack for reset_device; nothing here goes back that
    # way, and the stack would keep every earlier build's device (its arrays and code) alive
    del previous_devices[depth:]


def select(device: str = "runtime", build_dir: str | None = None, codegen_target: str = "cython",
           precision: str = "float64", threads: int = 0, loops: str = "blocked") -> None:
    """Make ``device`` the target of the next network build: an alias of ``Target(...).select()``
    (which holds the logic) for scripts, the tutorial and the tests, with the runtime device as the
    default (a Target's default is cpp_standalone, where the studies run)."""
    Target(device, str(build_dir) if build_dir else None, codegen_target=codegen_target, precision=precision,
           threads=threads, loops=loops).select()


def has_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None


def _prepare_cuda(build_dir: Path) -> None:
    try:
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
    except ImportError as exc:
        raise ConfigError("device='cuda_standalone' needs brian2cuda, which is not installed: "
                          "pip install --pre 'brian-decolle[cuda]'") from exc
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
    if _is_cpp(b2.get_device()):
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


def _is_cpp(device) -> bool:
    """Whether ``device`` is cpp_standalone (ours or Brian2's; brian2cuda's device derives from it too)."""
    return isinstance(device, CPPStandaloneDevice) and type(device).__name__ != "CUDAStandaloneDevice"


def is_standalone() -> bool:
    return b2.get_device().__class__.__name__ != "RuntimeDevice"


#: the per-element loop of Brian2's 'stateupdate' template (run_regularly and state updates)
_ELEMENT_LOOP = "for(int _idx=0; _idx<_N; _idx++)"
#: the OpenMP work-sharing line Brian2 puts before it when openmp_threads > 0
_OPENMP_LOOP = "#pragma omp parallel for schedule(static)"
#: a store into an array, and the index it uses
_STORE = re.compile(r"_ptr_array_\w+\[(\w+)\]\s*=[^=]")


def mark_independent_loops() -> int:
    """Let the C++ compiler vectorise the per-synapse learning updates; returns how many loops
    were marked.

    The update of a synapse (w -= lr*err_post*p_pre/norm, and Adamax's norm) reads its
    neurons' err and p through index arrays and writes only its own w and norm, so its
    iterations are independent. GCC cannot prove that: Brian2 reaches the arrays through
    local ``__restrict`` pointers, which GCC does not trust for indexed loads, and it leaves
    the loop scalar. ``#pragma GCC ivdep`` (or, with OpenMP, ``omp parallel for simd``) states
    the independence. Only run_regularly code of Synapses whose loop stores nothing but the
    synapse's own variables (index ``_idx``) is marked; a loop writing a pre- or postsynaptic
    variable, and the summed variables, whose synapses add into shared targets, never are.
    """
    if not _is_cpp(b2.get_device()):
        return 0
    marked, unrecognised = 0, []
    for codeobj in b2.device.code_objects.values():
        code = codeobj.code.cpp_file
        if (codeobj.template_name != "stateupdate" or not isinstance(codeobj.owner, b2.Synapses)
                or "GCC ivdep" in code or "for simd" in code):
            continue
        if code.count(_ELEMENT_LOOP) != 1:   # Brian2's template is not the one this reads
            unrecognised.append(codeobj.name)
            continue
        if any(index != "_idx" for index in _STORE.findall(code.split(_ELEMENT_LOOP)[1])):
            continue
        if code.count(_OPENMP_LOOP) == 1:
            code = code.replace(_OPENMP_LOOP, "#pragma omp parallel for simd schedule(static)")
        else:
            code = code.replace(_ELEMENT_LOOP, "#pragma GCC ivdep\n    " + _ELEMENT_LOOP)
        codeobj.code.cpp_file = code
        marked += 1
    if unrecognised:
        warnings.warn(f"Brian2 {b2.__version__}'s per-synapse loops are not the ones mark_independent_loops knows "
                      f"({_ELEMENT_LOOP!r} not found once in {', '.join(sorted(unrecognised))}): these weight updates "
                      "stay unvectorised (slower, same results)", RuntimeWarning, stacklevel=2)
    return marked


#: free space below which a failed build is blamed on a full disk
LOW_DISK_BYTES = 200 * 2**20


def check_cuda(compile: bool = True, run: bool = True) -> None:
    """What cuda_standalone needs to compile (nvcc) and to run (an NVIDIA GPU), as ConfigErrors that say
    what to do; a study checks both before it builds anything (a compile takes minutes)."""
    if compile and shutil.which("nvcc") is None:
        raise ConfigError("device='cuda_standalone' needs nvcc (the CUDA toolkit) to compile and none is on "
                          "PATH: install the CUDA toolkit (https://developer.nvidia.com/cuda-downloads) or "
                          "choose 'cpp_standalone' or 'runtime'")
    if run and not has_gpu():
        raise ConfigError("device='cuda_standalone' needs an NVIDIA GPU to run and none was found "
                          "(no nvidia-smi); choose 'cpp_standalone' or 'runtime' here")


def build(run: bool = True, compile: bool = True) -> None:
    """Compile and run a standalone project after ``Network.run`` was called; no-op on runtime.
    What is missing for CUDA (a GPU, nvcc) and a full disk are ConfigErrors that say what to do."""
    if not is_standalone():
        return
    if b2.get_device().__class__.__name__ == "CUDAStandaloneDevice":
        check_cuda(compile=compile, run=run)
    mark_independent_loops()
    options = dict(b2.device.build_options)
    options.update(compile=compile, run=run)
    folder = Path(options.get("directory") or b2.device.project_dir or ".")
    try:
        b2.device.build(**options)
    except (OSError, RuntimeError) as err:
        full = getattr(err, "errno", None) == errno.ENOSPC or _free_bytes(folder) < LOW_DISK_BYTES
        if not full:
            raise
        raise ConfigError(f"the disk holding the build folder {folder} is full ({err}); free some space or "
                          "choose another --build-dir") from err


def _free_bytes(folder: Path) -> float:
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free
