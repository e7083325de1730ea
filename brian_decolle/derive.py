"""Three-factor rules derived from a cost and a neuron model with sympy.

DECOLLE's rule is the gradient of a layer-local cost with every trace detached
(paper Sec. 3):

    dL/dw_ij = sum_k dL/dy_k g_ki mask_i * da_i/du_i * du_i/dw_ij
             = (modulatory factor m_i) * (postsynaptic factor) * (presynaptic factor)

:func:`derive_rule` computes each factor from text a neuroscientist writes:

- the cost of one step, per readout unit, in ``y`` (the readout), ``yhat`` (its
  pseudo-target) and ``n_out``. ``sum(...)`` is a sum over the units of the same
  readout, so costs that couple its units (softmax cross-entropy) stay local;
- the surrogate sigma(u) that replaces the step Theta(u) when differentiating
  (``equations/surrogates.eqs``);
- the neuron's membrane expression ``u = ...`` (its ``### model`` section) and the
  synaptic sum it reads, ``isyn_post = w*p_pre`` (``equations/plasticity.eqs``).

Brian2 functions without a sympy twin are mapped before differentiating (``clip``
to Min/Max, ``int(condition)`` to Piecewise) and the results are printed back as
Brian2 code (Heaviside to ``int(x > 0)``, Min/Max to ``clip``). The result is a
:class:`Rule` whose parts the builder uses where it would use the hand-written
sections of ``losses.eqs`` and ``surrogates.eqs``; :meth:`Rule.equations` writes
it as an annotated ``.eqs`` text.

What the rule leaves out is named, not silently lost (:attr:`Rule.dropped`): every
other state variable of u (the refractory state r = eta*s_i) depends on w_ij only
through this neuron's earlier spikes, a history DECOLLE drops on purpose, as it
drops the dependence of the presynaptic trace on earlier layers.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import sympy as sp

from . import equations as eq
from .checks import ConfigError

#: what a cost may read: the readout unit's value, its pseudo-target, and the readout's size
COST_NAMES = ("y", "yhat", "n_out")
#: the neuron and synapse variables a cost cannot read (the other factors come from the neuron model)
LAYER_NAMES = ("u", "p", "q", "r", "w", "b", "m", "err", "sg", "act", "mask", "isyn", "spiked", "logistic",
               "delta", "c", "g")
#: names that reach another layer or another time step: not local
_NON_LOCAL = re.compile(r"(^|_)(layer\d*|pre|post|next|prev|previous|future|past|delayed?|lag\d*|t\d+)$|"
                        r"^(layer|next|prev|future|past)_")
#: Brian2 functions a cost may call (plus ``sum`` over the readout's units)
FUNCTIONS = ("exp", "log", "sqrt", "abs", "sign", "clip", "int", "tanh", "sinh", "cosh", "sin", "cos",
             "log1p", "expm1")
#: the synaptic input of one synapse: weight times presynaptic trace (plasticity.eqs' ``synapse``)
SYNAPSE_SUM = "w*p_pre"


@dataclass(frozen=True)
class Rule:
    """A derived three-factor rule; every field is Brian2 code.

    loss: the cost of one readout unit at one step (recorded for learning curves);
    delta: dL/dy_k, the readout error sent back through g (the modulatory factor);
    sums: (name, term) readout-wide sums the cost reads, sum over units of term;
    back_sums: (name, term) the second sums their derivatives need, sum_l dL_l/dZ;
    post: da_i/du_i of a hidden layer, from the surrogate (the output layer's is 1);
    pre: du_i/dw_ij in synapse code (neuron variables with _post, the trace p_pre);
    bias: du_i/db_i in neuron code;
    dropped: the terms of du_i/dw_ij left out, each with the reason;
    traces: (name, update) per-synapse traces of the histories kept instead (refractory_trace).
    """

    cost: str
    loss: str
    delta: str
    sums: tuple[tuple[str, str], ...]
    back_sums: tuple[tuple[str, str], ...]
    post: str
    pre: str
    bias: str
    dropped: tuple[str, ...]
    traces: tuple[tuple[str, str], ...] = ()

    def equations(self) -> str:
        """The rule as an annotated equations text (sections as in equations/*.eqs)."""
        lines = ["# Three-factor rule derived by brian_decolle.derive (sympy) from the cost",
                 f"#   L = sum_k [{self.cost}]",
                 "# dL/dw_ij = sum_k delta_k g_ki mask_i * post_i * pre_ij", "",
                 "### readout", f"loss = {self.loss}", f"grad = {self.delta}"]
        for title, items, what in (("readout_sums", self.sums, "sum over the readout's units"),
                                   ("readout_back_sums", self.back_sums, "sum_l dL_l/dZ, their derivative")):
            if items:
                lines += ["", f"### {title}", f"# {what}"] + [f"{name} = {term}" for name, term in items]
        lines += ["", "### neuron", "# (a non-spiking output layer reads u itself: its dsigma is 1)",
                  f"dsigma = {self.post}", f"bias_factor = {self.bias}",
                  "", "### synapse", f"pre = {self.pre}"]
        if self.traces:
            lines += ["", "### synapse_traces", "# kept histories, updated after the weights every step"]
            lines += [f"{name} = {update}" for name, update in self.traces]
        lines += ["", "# left out of du_i/dw_ij:"]
        lines += [f"#   {text}" for text in self.dropped]
        return "\n".join(lines) + "\n"


@functools.cache
def derive_rule(cost: str, sigma: str, u: str = "isyn + r + b", synapse_sum: str = SYNAPSE_SUM,
                output: bool = False, keep: tuple[tuple[str, str], ...] = ()) -> Rule:
    """The three factors of DECOLLE's rule for one layer.

    cost: the loss of one readout unit at one step (see the module docstring);
    sigma: the surrogate sigma(u) in ``u``; u: the neuron's membrane expression;
    synapse_sum: the term one synapse adds to ``isyn``; output: a non-spiking output
    layer, whose readout is u itself (da/du = 1); keep: histories kept with traces
    (:func:`derive_synaptic`).
    """
    loss, delta, sums, back_sums = derive_readout(cost)
    post = "1" if output else derive_post(sigma)
    pre, bias, dropped, traces = derive_synaptic(u, synapse_sum, keep)
    return Rule(cost=cost, loss=loss, delta=delta, sums=sums, back_sums=back_sums, post=post, pre=pre,
                bias=bias, dropped=dropped, traces=traces)


# ---- the cost: the modulatory factor ------------------------------------------------------
def derive_readout(cost: str):
    """(loss, delta, sums, back_sums) of a per-unit cost; see :class:`Rule`."""
    expr = parse(cost, "loss_expr")
    calls = sorted(expr.atoms(sp.Function), key=str)
    sum_calls = [f for f in calls if f.func.__name__ == "sum"]
    for f in sum_calls:
        if len(f.args) != 1 or f.args[0].atoms(sp.Function) & set(sum_calls):
            raise ConfigError(f"loss_expr={cost!r}: sum(...) takes one term and cannot be nested")
    zs = [sp.Symbol(f"readout_sum{k}", real=True) for k in range(len(sum_calls))]
    expr = expr.subs(dict(zip(sum_calls, zs)))
    terms = [to_differentiable(f.args[0], cost) for f in sum_calls]
    names = {s.name for s in expr.free_symbols | set().union(*(t.free_symbols for t in terms))}
    check_cost_names(names - {z.name for z in zs}, cost)
    expr = to_differentiable(expr, cost)
    y = sp.Symbol("y", real=True)
    if not expr.has(y) and not any(t.has(y) for t in terms):
        raise ConfigError(f"loss_expr={cost!r} does not depend on the readout y: there is nothing to learn")
    delta = differentiate(expr, y, cost)
    back_sums = []
    for k, (z, term) in enumerate(zip(zs, terms)):
        dz = differentiate(expr, z, cost)
        if dz == 0:
            continue
        back = sp.Symbol(f"readout_back{k}", real=True)
        back_sums.append((back.name, dz))
        delta += back * differentiate(term, y, cost)
    return (brian(expr), brian(delta), tuple((z.name, brian(t)) for z, t in zip(zs, terms)),
            tuple((name, brian(t)) for name, t in back_sums))


def check_cost_names(names, cost: str) -> None:
    """Refuse names a per-step, per-layer cost cannot read, saying why."""
    for name in sorted(names):
        if name in COST_NAMES:
            continue
        if _NON_LOCAL.search(name):
            raise ConfigError(f"loss_expr={cost!r}: {name!r} reaches another layer or another time step; DECOLLE's "
                              f"cost is local to one layer's readout and one step (it may use {', '.join(COST_NAMES)})")
        if name in LAYER_NAMES:
            raise ConfigError(f"loss_expr={cost!r}: {name!r} is a variable of the layer's neurons or synapses; the "
                              f"cost is a function of the readout (it may use {', '.join(COST_NAMES)}), and the "
                              "rule's other factors are derived from the neuron model")
        raise ConfigError(f"loss_expr={cost!r}: unknown variable {name!r}; a cost may use "
                          f"{', '.join(COST_NAMES)}, numbers, pi, and the functions {', '.join(FUNCTIONS)}, sum")


# ---- the surrogate: the postsynaptic factor -------------------------------------------------
def derive_post(sigma: str) -> str:
    """d sigma/du of a surrogate written in ``u``."""
    expr = to_differentiable(parse(sigma, "surrogate"), sigma)
    return brian(differentiate(expr, sp.Symbol("u", real=True), sigma))


# ---- the neuron: the presynaptic factor -----------------------------------------------------
def derive_synaptic(u: str, synapse_sum: str = SYNAPSE_SUM, keep: tuple[tuple[str, str], ...] = ()):
    """(pre, bias, dropped, traces) from the membrane expression u and the synaptic sum.

    keep: (state, its update from one step to the next) pairs, e.g. ('r', 'alpha_r*r - (1 -
    alpha_r)*w_rp*spiked'), whose dependence on w_ij through the neuron's own earlier spikes
    (spiked = Theta(u), differentiated as the surrogate's slope sg) is kept with a per-synapse trace
    d state/d w_ij; traces are (trace name, its update in synapse code), run after the weight update.
    """
    expr = to_differentiable(parse(u, "neuron u"), u)
    isyn, b = sp.Symbol("isyn", real=True), sp.Symbol("b", real=True)
    if not expr.has(isyn):
        raise ConfigError(f"the neuron's u = {u} does not read isyn, the sum of its synapses: no rule for w")
    one = to_differentiable(parse(synapse_sum, "synapse"), synapse_sum)
    w = sp.Symbol("w", real=True)
    du_dw = differentiate(expr, isyn, u) * differentiate(one, w, synapse_sum)
    kept = {}
    for name, _ in keep:
        state = sp.Symbol(name, real=True)
        if not expr.has(state):
            raise ConfigError(f"the neuron's u = {u} does not read {name!r}: there is no history of it to keep")
        kept[name] = sp.Symbol(f"d{name}_dw", real=True)
        du_dw += differentiate(expr, state, u) * kept[name]
    spiked, slope = sp.Symbol("spiked", real=True), sp.Symbol("sg", real=True)
    traces = []
    for name, update in keep:  # x' = f(x, spiked): dx'/dw = df/dx dx/dw + df/dspiked sigma'(u) du/dw
        f = to_differentiable(parse(update, f"update of {name}"), update)
        state = sp.Symbol(name, real=True)
        grown = differentiate(f, state, update) * kept[name] + differentiate(f, spiked, update) * slope * du_dw
        traces.append((kept[name].name, brian(_in_synapse(grown, set(kept.values())))))
    pre = brian(_in_synapse(du_dw, set(kept.values())))
    bias = brian(differentiate(expr, b, u)) if expr.has(b) else "0"
    dropped = []
    for s in sorted(expr.free_symbols - {isyn, b} - {sp.Symbol(n, real=True) for n in kept}, key=lambda s: s.name):
        why = HISTORY.get(s.name, "a state of this neuron; it depends on w_ij only through earlier steps")
        dropped.append(f"{s.name}: {why} (DECOLLE drops that history, Sec. 3)")
    dropped.append("p_pre: the presynaptic trace depends on earlier layers only (no w_ij)")
    return pre, bias, tuple(dropped), tuple(traces)


def _in_synapse(expr, own):
    """In synapse code the neuron's variables are the postsynaptic ones; the synapse's own stay."""
    return expr.subs({s: sp.Symbol(f"{s.name}_post", real=True) for s in expr.free_symbols
                      if s not in own and not s.name.endswith(("_pre", "_post"))})


#: why each known term of u carries no w_ij of this step
HISTORY = {"r": "the refractory state eta*s_i, fed by this neuron's earlier spikes, which depended on w_ij",
           "h": "the excitability (homeostasis.eqs), moved by this neuron's rate over earlier steps"}


# ---- sympy in, Brian2 out ------------------------------------------------------------------
def parse(text: str, what: str) -> sp.Expr:
    """Brian2 expression text as a sympy expression (Brian2's own parser); a ConfigError if it is not one."""
    from brian2.parsing.sympytools import str_to_sympy
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{what}={text!r} must be a non-empty Brian2 expression")
    try:
        expr = str_to_sympy(text)
    except (SyntaxError, TypeError, ValueError) as exc:
        raise ConfigError(f"{what}={text!r} is not a Brian2 expression ({exc.__cause__ or exc})") from None
    if not isinstance(expr, sp.Expr):
        raise ConfigError(f"{what}={text!r} is a condition, not a number: wrap it as int(...)")
    return expr.subs({s: sp.Symbol(s.name, real=True) for s in expr.free_symbols})


def to_differentiable(expr: sp.Expr, text: str) -> sp.Expr:
    """Brian2's clip and int(condition) as sympy's Min/Max and Piecewise; unknown functions refused."""
    def clip(x, low, high):
        return sp.Piecewise((low, x < low), (high, x > high), (x, True))

    def int_(cond):
        # (a sympy Symbol is also a Boolean, so conditions are recognised by their kind)
        if not isinstance(cond, (sp.core.relational.Relational, sp.logic.boolalg.BooleanFunction,
                                 sp.logic.boolalg.BooleanAtom)):
            raise ConfigError(f"{text!r}: int() of a number truncates it and has no derivative; "
                              "int() may only turn a condition into 0 or 1")
        return sp.Piecewise((1, cond), (0, True))

    mapping = {"clip": clip, "int_": int_, "sqrt": sp.sqrt}
    for f in sorted(expr.atoms(sp.Function), key=str):
        name = f.func.__name__
        if name in mapping or name == "sum" or not isinstance(f, sp.core.function.AppliedUndef):
            continue
        raise ConfigError(f"{text!r}: unknown function {name!r}; allowed: {', '.join(FUNCTIONS)}, sum")
    for name, func in mapping.items():
        expr = expr.replace(lambda e, name=name: isinstance(e, sp.Function) and e.func.__name__ == name,
                            lambda e, func=func: func(*e.args))
    return expr


def differentiate(expr: sp.Expr, var: sp.Symbol, text: str) -> sp.Expr:
    """d expr/d var; the derivative of a step is 0 almost everywhere, so DiracDelta terms are dropped.
    A ConfigError when sympy cannot differentiate it."""
    d = sp.piecewise_fold(sp.diff(expr, var).replace(sp.DiracDelta, lambda *args: sp.S.Zero))
    if d.has(sp.Derivative, sp.Subs) or d.has(sp.zoo, sp.nan):
        raise ConfigError(f"{text!r} cannot be differentiated with respect to {var}: sympy gives {d}")
    return d


def brian(expr: sp.Expr) -> str:
    """A sympy expression as Brian2 code: Piecewise as sums of int(condition)*value (each condition
    excluding the earlier ones), Heaviside as int(x > 0), Min/Max as clip."""
    from brian2.parsing.sympytools import sympy_to_str
    return sympy_to_str(_plain(expr))


_INT = sp.Function("int_")      # Brian2's parser and printer name for int()
_CLIP = sp.Function("clip")


def _plain(expr):
    """The tree rewritten top-down (bottom-up, sympy would re-order Piecewise conditions and lose
    their exclusivity)."""
    if isinstance(expr, sp.Piecewise):
        out, before = sp.S.Zero, sp.true
        for value, cond in expr.args:
            here = _simplify_condition(sp.And(before, cond))
            before = _simplify_condition(sp.And(before, sp.Not(cond)))
            if here is sp.false or value == 0:
                continue
            out += _plain(value) if here is sp.true else _INT(here) * _plain(value)
        return out
    if isinstance(expr, sp.Heaviside):
        return _INT(sp.StrictGreaterThan(_plain(expr.args[0]), 0))
    if isinstance(expr, (sp.Max, sp.Min)):
        args = [_plain(a) for a in _numbers_last(expr.args)]
        out = args[0]
        for a in args[1:]:
            out = _CLIP(out, a, sp.oo) if isinstance(expr, sp.Max) else _CLIP(out, -sp.oo, a)
        return out
    if expr.args and isinstance(expr, sp.Expr):
        return expr.func(*[_plain(a) for a in expr.args])
    return expr


def _simplify_condition(cond):
    """cond as the shortest intervals when it bounds one expression (y - yhat > 1 and y - yhat < -1
    are bounds on one symbol, which sympy reduces as a set); otherwise sympy's simplify."""
    parts = set()
    for rel in cond.atoms(sp.core.relational.Relational):
        _, part = (rel.lhs - rel.rhs).as_independent(*cond.free_symbols, as_Add=True)
        parts.add(part.args[0] if isinstance(part, sp.Abs) else part)
    if len(parts) != 1:
        return cond.simplify()
    part = next(iter(parts))
    x = part if part.is_Symbol else sp.Dummy("x", real=True)
    try:
        region = cond.subs(part, x).as_set()
    except (NotImplementedError, TypeError, ValueError):
        return cond.simplify()
    if region == sp.S.Reals or region == sp.S.EmptySet:
        return sp.true if region == sp.S.Reals else sp.false
    return region.as_relational(x).subs(x, part)


def _numbers_last(args):
    """max(x, 1) reads better as clip(x, 1, inf) than as clip(1, x, inf) (the same value)."""
    return sorted(args, key=lambda a: a.is_number)


# ---- what a network config asks for ----------------------------------------------------------
def rule_for(cfg, output: bool = False) -> Rule:
    """The rule of ``cfg.loss_expr`` with cfg's surrogate and neuron (its own file or ours)."""
    u, keep = neuron_of(cfg)
    sigma = eq.expressions("surrogates.eqs", cfg.surrogate)["sigma"]
    return derive_rule(cfg.loss_expr, sigma, u, output=output, keep=keep)


def synaptic_for(cfg):
    """(pre, bias, dropped, traces) of cfg's neuron, whatever the cost (see :func:`derive_synaptic`)."""
    u, keep = neuron_of(cfg)
    return derive_synaptic(u, SYNAPSE_SUM, keep)


def neuron_of(cfg) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The membrane expression u of cfg's neuron file, and the histories cfg keeps: with
    refractory_trace, r and its update from the file's ``decay`` block."""
    from brian2 import Equations

    neuron_file = cfg.neuron_equations or f"neuron_{cfg.dynamics}.eqs"
    model = Equations(eq.sections(neuron_file)["model"])
    if "u" not in model or model["u"].type != "subexpression":
        raise ConfigError(f"{neuron_file}: the model must define the membrane potential as a subexpression "
                          "'u = ... : 1' to derive a rule from it")
    keep = ()
    if getattr(cfg, "refractory_trace", False):
        updates = dict(line.split("=", 1) for line in eq.code(neuron_file, "decay").splitlines() if "=" in line)
        updates = {k.strip(): v.strip() for k, v in updates.items()}
        if "r" not in updates:
            raise ConfigError(f"refractory_trace=True: {neuron_file}'s decay block has no update 'r = ...' to "
                              "differentiate")
        keep = (("r", updates["r"]),)
    return model["u"].expr.code, keep
