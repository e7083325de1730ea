"""Code generation that knows the connectivity: loops over declared layouts of synapses, without index arrays.

Brian2 stores two int32 index arrays per synapse (pre, post), and shared weights add a third (kidx,
oidx); every per-synapse loop it generates loads them, whatever the connectivity. The forward summed
variable ``isyn_post = w*p_pre`` is then a scatter-add through ``_synaptic_post`` that no compiler
vectorises, and the weight update streams 8 bytes of indices beside each weight. Yet the model
declares its connectivity completely, and this module lets it say so:

- :class:`Blocks`: synapses (b, i, j) stored at ``(b*n_pre + i)*n_post + j``, every index affine in
  (b, i, j). A dense layer is one block of ``n_pre x n_post``, a local readout one block per replica,
  a one-to-one readout ``n`` blocks of 1 x 1; with replicas, the forward synapses read kernel entry
  ``kidx = i*n_post + j`` and the kernel-gradient synapses add into it. :func:`connect_blocks` makes
  such connections and declares them.
- :class:`Convolution`: the forward and kernel-gradient connections of a convolution (replicas,
  shapes, kernel, stride, padding), made by Brian2's generator syntax and declared with :func:`declare`.

How it works, and the Brian2 internals it relies on (brian2 2.10):

- :class:`DecolleStandaloneDevice` is cpp_standalone with ``code_object`` changed: for a declared
  Synapses' run_regularly code (template ``stateupdate``) and summed variables (``summed_variable``)
  it renders our templates (``brian_decolle/templates``: ``blocked_*``, ``convolution_summed_variable``;
  found first by ``Templater.derive``, every other template is Brian2's) with the layout as template
  keywords, through :class:`BlockedCodeObject`.
- Those templates loop over the layout (rows of contiguous synapses innermost; for a convolution, the
  sum's targets and the taps that reach them, a row of output positions innermost) and name the loop
  counters. :class:`BlockedCodeGenerator` (a ``CPPCodeGenerator``) writes each index Brian2 would load
  (``_presynaptic_idx``, ``_postsynaptic_idx``, ``kidx``, ``oidx``) as an expression of the counters;
  Brian2's own translation of the equations is kept whole, so the equations stay the single source of
  the math. Code that reads a variable of the synapse itself keeps Brian2's loop for a convolution
  (whose loops have no synapse index).
- A pathway (``on_pre``, ``on_post``; on spikes or custom events) of declared synapses runs without
  Brian2's spike queue: its push does nothing (template ``no_queue_push_spikes``) and its code
  (``blocked_synapses``, ``convolution_synapses``) reads this step's events from the source's
  eventspace and runs over each event's own synapses, computing their indices: spikes x fan-out for
  spike-driven input, learning events x fan-in for error-triggered learning, with events in the
  eventspace's order and each event's synapses in index order (the queue's). A pathway is delivered in
  its own step, so the program checks that every delay is 0.
- Inner loops are marked ``#pragma GCC ivdep`` where their iterations write distinct elements, so a
  sum into postsynaptic targets vectorises; OpenMP splits the rows of a weight update. Every target
  sums its synapses in Brian2's order, except that the compiler (Brian2's -ffast-math) may reassociate
  a kernel entry's sum when it vectorises it: rounding differences of about 1e-16 per step. The
  studies' networks give the generic loops' spikes and weights to 1e-12 (tests/test_codegen.py).
- The generated program checks each declared layout once per run against the index arrays Brian2
  built (every synapse where the layout puts it, or for a convolution one of its connections, each
  once, all of them) and stops with an error naming the synapses if it does not hold;
  :func:`count_blocked` lets tests assert that the declared loops were generated. A Brian2 upgrade
  that breaks either fails a test instead of running slow or wrong silently.

Both cpp_standalone devices here (:class:`DecolleStandaloneDevice`, and :class:`PrecompiledStandaloneDevice`
for ``devices.Target(loops='generic')``, which builds Brian2's loops for everything) compile ``objects.h``
once per project, as a precompiled header (``brian_decolle/templates/makefile``). cuda_standalone keeps
brian2cuda's own templates (the generic path); the runtime device ignores the declarations; a
Synapses object that declares nothing (a user's own model) runs Brian2's loops.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import brian2 as b2
import numpy as np
from brian2.codegen.generators.cpp_generator import CPPCodeGenerator
from brian2.devices.cpp_standalone.codeobject import CPPStandaloneCodeObject
from brian2.devices.cpp_standalone.device import CPPStandaloneDevice
from brian2.synapses.synapses import SynapticPathway
from brian2.utils.stringtools import get_identifiers

from . import compile_cache

#: Brian2's templates that have a blocked twin in brian_decolle/templates
BLOCKED_TEMPLATES = ("stateupdate", "summed_variable")
#: Brian2's templates of a synaptic pathway (on_pre, on_post): the queue's push, and the pathway's code
PATHWAY_TEMPLATES = ("synapses_push_spikes", "synapses")
#: our templates of a pathway's code
PATHWAY_OURS = ("blocked_synapses", "convolution_synapses")
#: where (in the project folder) the generated program says which declared layout did not hold
LAYOUT_FAILURE_FILE = "layout_check_failed.txt"
#: Brian2's names of a synapse's own indices (loaded from these arrays by generic loops)
SYNAPSE_INDICES = {"_presynaptic_idx": "_synaptic_pre", "_postsynaptic_idx": "_synaptic_post"}


@dataclass(frozen=True)
class Blocks:
    """Synapses (b, i, j), b < blocks, i < n_pre, j < n_post, stored at index (b*n_pre + i)*n_post + j.

    Every index a synapse uses is affine in (b, i, j), given as its coefficients (per b, per i, per j):
    ``pre`` (default: b*n_pre + i, diagonal blocks), ``post`` (default: b*n_post + j) and ``indices``,
    integer variables of the synapses by name (e.g. a shared kernel's ``kidx``).
    """

    blocks: int
    n_pre: int
    n_post: int
    pre: tuple[int, int, int] | None = None
    post: tuple[int, int, int] | None = None
    indices: tuple[tuple[str, tuple[int, int, int]], ...] = ()
    has_synapse_index = True   # (a class constant: its loops define _idx)

    @property
    def n_synapses(self) -> int:
        return self.blocks * self.n_pre * self.n_post

    def coefficients(self) -> dict[str, tuple[int, int, int]]:
        """Every computed index by its name in Brian2's code, with its coefficients."""
        return {"_presynaptic_idx": self.pre or (self.n_pre, 1, 0),
                "_postsynaptic_idx": self.post or (self.n_post, 0, 1), **dict(self.indices)}

    def expressions(self) -> dict[str, str]:
        """Every computed index as C++ of the loop counters _b, _i, _j."""
        def term(c, v):
            return v if c == 1 else f"{c}*{v}"
        return {name: " + ".join(term(c, v) for c, v in zip(coef, ("_b", "_i", "_j")) if c) or "0"
                for name, coef in self.coefficients().items()}

    def varies_with_j(self, index: str, counter: int = 2) -> bool:
        """Whether ``index`` (a name in Brian2's code, or '_idx') differs between the synapses of one row
        (counter 2: along j; 1: along i, the loop of a postsynaptic event)."""
        return index == "_idx" or (index in self.coefficients() and self.coefficients()[index][counter] != 0)

    def template(self, owner, template_name: str, template_kwds: dict):
        """(our template, its keywords, the arrays it checks the layout against), or None: Brian2's loop."""
        if template_name in PATHWAY_TEMPLATES:
            # a pathway's events are units of its source: (b, i) with the default diagonal blocks
            if self.pre is not None or self.post is not None:
                return None
            return pathway_template(owner, template_name, template_kwds, "blocked_synapses", SYNAPSE_INDICES)
        if template_name not in BLOCKED_TEMPLATES:
            return None
        keywords = {}
        if template_name == "summed_variable":   # into the pre- or postsynaptic side
            side = "_presynaptic_idx" if template_kwds["_index_var"] is owner.variables["_synaptic_pre"] \
                else "_postsynaptic_idx"
            keywords = {"target_index": self.expressions()[side], "target_varies": self.varies_with_j(side)}
        return f"blocked_{template_name}", keywords, {**SYNAPSE_INDICES, **{name: name for name, _ in self.indices}}

    def links(self) -> tuple[np.ndarray, np.ndarray]:
        """(presynaptic, postsynaptic) index of every synapse, in the stored order."""
        b, i, j = np.unravel_index(np.arange(self.n_synapses), (self.blocks, self.n_pre, self.n_post))
        coef = self.coefficients()
        return tuple(sum(c * v for c, v in zip(coef[name], (b, i, j))) for name in SYNAPSE_INDICES)


def connect_blocks(synapses: b2.Synapses, blocks: int, n_pre: int, n_post: int) -> None:
    """Connect ``synapses`` as diagonal blocks (see the module) and declare it."""
    layout = Blocks(blocks, n_pre, n_post)
    pre, post = layout.links()
    synapses.connect(i=pre, j=post)
    declare(synapses, layout)


def declare(synapses: b2.Synapses, layout: "Blocks | Convolution") -> None:
    """Declare the layout of connections made otherwise (e.g. by Brian2's generator syntax), so that a
    :class:`DecolleStandaloneDevice` generates their loops without index arrays; other devices ignore it.
    The generated program checks the layout once per run and stops with an error if it does not hold."""
    device = b2.get_device()
    if isinstance(device, DecolleStandaloneDevice):
        device.layouts[synapses.name] = layout


@dataclass(frozen=True)
class Convolution:
    """Connections of a convolution in ``blocks`` replicas: input unit (b, ci, iy, ix) to output unit
    (b, co, y, x) through kernel entry (ci, co, dy, dx) wherever iy = y*stride + dy - padding and
    ix = x*stride + dx - padding lie in the input (units and entries stored row-major in these orders).

    role 'forward': the synapses run input -> output reading the kernel entry ``kidx``; role 'kernel':
    the kernel gradient's synapses run input -> kernel entry reading the output unit ``oidx``. Their
    loops (template convolution_summed_variable) run over outputs or kernel entries and the taps that
    reach them, so they hold no synapse index: code reading a variable of the synapse itself keeps
    Brian2's loop.
    """

    role: str
    blocks: int
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    size: int
    stride: int = 1
    padding: int = 0
    has_synapse_index = False   # (a class constant: its loops run over targets and taps, not synapses)

    def expressions(self) -> dict[str, str]:
        (c_in, h_in, w_in), (c_out, h_out, w_out), k = self.input_shape, self.output_shape, self.size
        unit_in = f"((_b*{c_in} + _ci)*{h_in} + _iy)*{w_in} + _ix"
        unit_out = f"((_b*{c_out} + _co)*{h_out} + _y)*{w_out} + _x"
        entry = f"((_ci*{c_out} + _co)*{k} + _dy)*{k} + _dx"
        if self.role == "forward":
            return {"_presynaptic_idx": unit_in, "_postsynaptic_idx": unit_out, "kidx": entry}
        return {"_presynaptic_idx": unit_in, "_postsynaptic_idx": entry, "oidx": unit_out}

    def reaches(self, n_out: int, n_in: int) -> np.ndarray:
        """(n_out, size): whether tap offset d (dy or dx) of output position y (or x) lies in the input."""
        positions = np.arange(n_out)[:, None] * self.stride + np.arange(self.size)[None, :] - self.padding
        return (positions >= 0) & (positions < n_in)

    def column_ranges(self) -> list[tuple[int, int]]:
        """For each kernel column dx, the output columns [first, stop) whose tap dx lies in the input."""
        reaches = self.reaches(self.output_shape[2], self.input_shape[2])
        ranges = []
        for column in reaches.T:
            valid = np.flatnonzero(column)
            ranges.append((int(valid[0]), int(valid[-1]) + 1) if len(valid) else (0, 0))
        return ranges

    @property
    def n_synapses(self) -> int:
        (c_in, h_in, w_in), (c_out, h_out, w_out) = self.input_shape, self.output_shape
        return self.blocks * c_in * c_out * int(self.reaches(h_out, h_in).sum()) * int(self.reaches(w_out, w_in).sum())

    def template(self, owner, template_name: str, template_kwds: dict):
        """(our template, its keywords, the arrays it checks the layout against), or None: Brian2's loop."""
        if template_name in PATHWAY_TEMPLATES:   # (only the forward synapses have pathways)
            return (pathway_template(owner, template_name, template_kwds, "convolution_synapses",
                                     {**SYNAPSE_INDICES, "kidx": "kidx"}) if self.role == "forward" else None)
        if template_name != "summed_variable" or template_kwds["_index_var"] is not owner.variables["_synaptic_post"]:
            return None
        index = "kidx" if self.role == "forward" else "oidx"
        keywords = {"target_index": self.expressions()["_postsynaptic_idx"]}
        return "convolution_summed_variable", keywords, {**SYNAPSE_INDICES, index: index}


def pathway_template(owner, template_name: str, template_kwds: dict, ours: str, checked: dict):
    """The plan of a pathway of declared synapses (see ``Blocks.template``): Brian2's spike queue is left
    out (its push does nothing) and the pathway's own template loops over each event's synapses; the
    delays are checked to be 0, since an event is delivered in its own step."""
    pathway = template_kwds.get("pathway", owner)   # (the pathway's code object is owned by its Synapses)
    source, synapses = pathway.source, pathway.synapses
    if getattr(source, "start", 0) != 0 or len(source) != len(getattr(source, "source", source)):
        return None   # (a subgroup's events are numbered in its parent)
    layout = b2.get_device().layout_of(pathway)
    if not layout.has_synapse_index and any(
            name in synapses.variables and synapses.variables.indices[name] == "_idx"
            and not getattr(synapses.variables[name], "scalar", False) for name in get_identifiers(pathway.code)):
        return None   # (a convolution's loops have no synapse index for the synapse's own variables)
    if template_name == "synapses_push_spikes":
        return "no_queue_push_spikes", {}, {}
    keywords = {"side": pathway.prepost, "eventspace_name": pathway.eventspace_name, "n_source": len(source),
                "pathway_variables": {name: pathway.variables[name] for name in ("N", "delay", pathway.eventspace_name)}}
    return ours, keywords, checked


def synapses_of(owner):
    """The Synapses object a code object's owner belongs to: itself, or a pathway's Synapses."""
    return owner.synapses if isinstance(owner, SynapticPathway) else owner


class NotBlockable(Exception):
    """The code needs something a declared layout's loop does not give (a synapse's own variable)."""


class BlockedCodeGenerator(CPPCodeGenerator):
    """Brian2's C++ generator, with the indices of declared synapses computed by the loop instead of loaded."""

    @property
    def layout(self) -> Blocks | Convolution:
        return b2.get_device().layout_of(self.owner)

    def translate_to_read_arrays(self, read, write, indices):
        expressions = self.layout.expressions()
        computed = sorted(name for name in indices if name in expressions)
        lines = [f"const int32_t {name} = {expressions[name]};" for name in computed]
        return lines + super().translate_to_read_arrays(read, write, set(indices) - set(computed))

    def translate_statement_sequence(self, sc_statements, ve_statements):
        used, written = set(), set()
        for block in ve_statements.values():
            read, write, _, _ = self.arrays_helper(block)
            used |= read | write
            written |= write
        if not self.layout.has_synapse_index and any(self.variable_indices[name] == "_idx" for name in used):
            raise NotBlockable(self.owner.name)
        scalar, vector, kwds = super().translate_statement_sequence(sc_statements, ve_statements)
        if isinstance(self.layout, Blocks):
            indices = {self.variable_indices[name] for name in written}
            # a write shared by the synapses of a row makes the inner loop sequential; only writes into the
            # synapse's own variables leave the rows independent (OpenMP)
            # (inner_independent_i: along i, the loop of a pathway's postsynaptic event)
            kwds.update(inner_independent=all(self.layout.varies_with_j(index) for index in indices),
                        inner_independent_i=all(self.layout.varies_with_j(index, 1) for index in indices),
                        rows_independent=indices <= {"_idx"})
        return scalar, vector, kwds


class BlockedCodeObject(CPPStandaloneCodeObject):
    """cpp_standalone's code object, rendering our templates first (Brian2's for every other one)."""

    templater = CPPStandaloneCodeObject.templater.derive("brian_decolle")
    generator_class = BlockedCodeGenerator


class PrecompiledStandaloneDevice(CPPStandaloneDevice):
    """cpp_standalone whose makefile parses ``objects.h`` once per project, into a precompiled header,
    instead of once per source: most of a source's compile is that parse, so a project compiles in
    about half the time (``brian_decolle/templates/makefile``; benchmarks/RESULTS.md, issue 30)."""

    def generate_makefile(self, *args, **kwargs):
        """Brian2's makefile step, rendering ``brian_decolle/templates/makefile`` instead of Brian2's."""
        # Brian2 renders the makefile with its default code object's templater; ours finds our makefile first
        self.code_object_class = lambda *_, **__: BlockedCodeObject
        try:
            super().generate_makefile(*args, **kwargs)
        finally:
            del self.code_object_class

    def compile_source(self, directory, compiler, debug, clean):
        """Brian2's make, with the objects compiled before of the same code copied in first and the new ones
        kept (:mod:`brian_decolle.compile_cache`); with every object copied in, the precompiled header (which
        only compiles read) is not made. ``cache_use``: (objects copied in, objects compiled and kept)."""
        cache = compile_cache.folder()
        if cache is None or compiler == "msvc" or clean:
            self.cache_use = (0, None)
            return super().compile_source(directory, compiler, debug, clean)
        objects = compile_cache.restore(directory, cache)
        make_args = b2.prefs.devices.cpp_standalone.extra_make_args_unix
        if objects.all_restored:
            b2.prefs.devices.cpp_standalone.extra_make_args_unix = [*make_args, "PCH_FIRST="]
        try:
            super().compile_source(directory, compiler, debug, clean)
        finally:
            b2.prefs.devices.cpp_standalone.extra_make_args_unix = make_args
        self.cache_use = (len(objects.restored), compile_cache.keep(objects, cache))


class DecolleStandaloneDevice(PrecompiledStandaloneDevice):
    """cpp_standalone, with blocked loops for declared synapses (see the module docstring)."""

    def __init__(self):
        super().__init__()
        self.layouts: dict[str, Blocks | Convolution] = {}   # Synapses name -> its declared layout

    def layout_of(self, owner) -> Blocks | Convolution | None:
        """The declared layout of a Synapses object, or of the Synapses of a pathway (None: none declared)."""
        return self.layouts.get(getattr(synapses_of(owner), "name", None))

    def run(self, *args, **kwargs):
        """Brian2's run; a failed layout check (which Brian2 reports only as 'Project run failed')
        says which synapses failed it."""
        try:
            return super().run(*args, **kwargs)
        except RuntimeError as err:
            report = Path(self.project_dir, LAYOUT_FAILURE_FILE)
            if not report.is_file():
                raise
            message = report.read_text().strip()
            report.unlink()
            raise RuntimeError(f"{err}: {message}") from err

    def code_object(self, owner, name, abstract_code, variables, template_name, variable_indices,
                    codeobj_class=None, template_kwds=None, override_conditional_write=None, compiler_kwds=None):
        layout = self.layout_of(owner)
        template_kwds = dict(template_kwds or {})
        plan = None
        if (layout is not None and codeobj_class in (None, CPPStandaloneCodeObject)
                and template_kwds.get("_target_start", 0) == 0):
            plan = layout.template(owner, template_name, template_kwds)
        if plan is not None:
            ours, keywords, checked = plan
            expressions = layout.expressions()
            # the arrays the program checks the layout against, once per run; a pathway's delays (checked to
            # be 0) and the events it reads itself
            arrays = {array: synapses_of(owner).variables[array] for array in checked.values()}
            arrays.update(keywords.pop("pathway_variables", {}))
            keywords = {**template_kwds, **keywords, "layout": layout, "layout_failure_file": LAYOUT_FAILURE_FILE,
                        "checks": [(array, expressions[name]) for name, array in checked.items()]}
            try:
                return super().code_object(owner, name, abstract_code, {**variables, **arrays}, ours, variable_indices,
                                           BlockedCodeObject, keywords, override_conditional_write, compiler_kwds)
            except NotBlockable:
                if ours in PATHWAY_OURS:   # (its push is already left out: a generic loop would miss events)
                    raise RuntimeError(f"{owner.name}: the pathway's code reads a synapse's own variable, which "
                                       "pathway_template should have found") from None
        return super().code_object(owner, name, abstract_code, variables, template_name, variable_indices,
                                   codeobj_class, template_kwds, override_conditional_write, compiler_kwds)


def count_blocked(device=None) -> int:
    """How many code objects of a built project use loops of a declared layout."""
    device = device or b2.get_device()
    return sum(1 for c in getattr(device, "code_objects", {}).values() if isinstance(c, BlockedCodeObject))
