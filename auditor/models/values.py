"""The set of values a Python expression can take, as far as the project's own code shows.

Why sets and not names: whether a model is loaded with ``trust_remote_code`` depends on the *value* that reaches
the call, not on how the argument is spelled. ``trust_remote_code=model_args.trust_remote_code`` is harmless when
the field defaults to ``False`` and nothing in the project sets it; ``trust_remote_code=True`` is not harmless just
because the model is chosen at run time. A ``Val`` is what the analysis knows: the constants the project itself
supplies (``known``) and whether the value can also be something else (``open``), and why.

``open`` distinguishes three kinds of "something else", because they carry different responsibility:

- ``OPTION``: an operator may override a default the project ships (argparse, a dataclass field parsed from the
  command line, an environment variable, a parameter with a default). The project is audited at its defaults and
  at every value it supplies itself; what the operator types at run time is the operator's choice.
- ``PARAM``: a parameter with no default whose callers are not in the project (a library entry point, a
  ``fire.Fire`` command): the caller decides.
- ``UNKNOWN``: computed at run time in a way the audit cannot bound (a function's return value, data read from a
  file). For ``trust_remote_code`` this means ``True`` cannot be ruled out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from auditor.domain import Location

Const = str | bool | int | float | None
MAX_KNOWN = 16  # constants one value may stand for; more than that and it is treated as unbounded
# ... except constants passed by the callers of a shared loader: each is a reference at its caller, so more are kept
MAX_PASSED = 64
TOO_MANY = "more possible values than the analysis follows"
MAX_RUNTIME_SITES = 8  # call sites kept per value where a run-time choice enters


class Open(IntEnum):
    """Why a value may be other than the known constants (ordered: a join keeps the strongest)."""

    OPTION = 1
    PARAM = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class Known:
    """One constant, and the call site it came through when it was passed by a caller (where to pin it)."""

    value: Const
    site: Location | None = None
    opt_in: bool = False  # set only on a path the operator enables explicitly (``if args.trust_remote_code:``)


@dataclass(frozen=True)
class Val:
    known: tuple[Known, ...] = ()
    open: Open | None = None
    why: str = ""  # what decides the open part: the expression, option or parameter, for messages
    fields: tuple[tuple[str, Val], ...] | None = None  # a dict literal's keys (for ``**kwargs``), None: not a dict
    # Call sites that pass a value chosen only at run time (no string of the project's own reaches through them),
    # with what chooses it: where a run-time model enters a shared loader, reported there even when other callers
    # pass literals.
    runtime: tuple[tuple[Location, str], ...] = ()

    @property
    def values(self) -> list[Const]:
        return [k.value for k in self.known]

    @property
    def bounded(self) -> bool:
        return self.open is None

    def field(self, key: str) -> Val | None:
        """The value stored under ``key`` of a tracked dict; None when the dict is not tracked or lacks it."""
        if self.fields is None:
            return None
        for name, value in self.fields:
            if name == key:
                return value
        return None

    def with_site(self, site: Location, entry: bool = True) -> Val:
        """Constants passed at a call site remember it (the first site wins); a value passed there that only run
        time decides (no string of the project's own) records the site as where a run-time choice enters (unless
        ``entry`` is False: what is passed there cannot be a name)."""
        runtime = self.runtime
        if entry and not runtime and self.open is not None and not any(isinstance(k.value, str) for k in self.known):
            runtime = ((site, self.why),)
        return Val(tuple(Known(k.value, k.site or site, k.opt_in) for k in self.known), self.open, self.why,
                   self.fields, runtime)

    def as_opt_in(self) -> Val:
        return Val(tuple(Known(k.value, k.site, True) for k in self.known), self.open, self.why, self.fields,
                   self.runtime)

    def keeping(self, known: tuple[Known, ...]) -> Val:
        """The same value with only ``known`` of its constants (a branch narrowed it)."""
        return Val(known, self.open, self.why, self.fields, self.runtime)


NOTHING = Val()  # no value at all (an unreachable path)


@dataclass(frozen=True)
class Lazy(Val):
    """A value computed only when read (a parameter: asking its callers costs a search of the project)."""

    thunk: Callable[[], Val] | None = field(default=None, compare=False)

    def force(self) -> Val:
        return self.thunk() if self.thunk is not None else Val()


def force(value: Val) -> Val:
    return value.force() if isinstance(value, Lazy) else value


def const(value: Const) -> Val:
    return Val((Known(value),))


def unknown(why: str, kind: Open = Open.UNKNOWN) -> Val:
    return Val(open=kind, why=why)


def option(default: Val, why: str) -> Val:
    """A default the operator may override."""
    return join(default, Val(open=Open.OPTION, why=why))


def join(*vals: Val) -> Val:
    """The values any of ``vals`` can take."""
    known: dict[object, Known] = {}
    open_: Open | None = None
    why = ""
    fields: dict[str, Val] | None = None
    vals = tuple(force(v) for v in vals)
    runtime = tuple(dict.fromkeys(site for v in vals for site in v.runtime))[:MAX_RUNTIME_SITES]
    # A dict joined with a bare "or whatever run time gives" (an option over a dict default) is still that dict.
    shaped = [v for v in vals if v.known or v.fields is not None]
    all_dicts = bool(shaped) and all(v.fields is not None for v in shaped)
    for val in vals:
        for item in val.known:
            # a constant keeps each call site that passes it: every caller that names a model is a reference (and
            # a flag applies to its own caller's models)
            key = (type(item.value).__name__, item.value, item.site)
            if key not in known:
                known[key] = item
            elif known[key].opt_in and not item.opt_in:
                known[key] = item  # the project sets it on some path of its own: that path counts
        if val.open is not None and (open_ is None or val.open > open_):
            open_, why = val.open, val.why
        elif val.open is not None and not why:
            why = val.why
    if all_dicts:
        fields = {}
        names = list(dict.fromkeys(name for v in shaped for name, _ in (v.fields or ())))
        for name in names:
            parts = [v.field(name) for v in shaped]
            fields[name] = join(*[p if p is not None else const(None) for p in parts])
    items = list(known.values())
    passed = [k for k in items if k.site is not None]
    if len(items) - len(passed) > MAX_KNOWN or len(passed) > MAX_PASSED:
        kept = [k for k in items if k.site is None][:MAX_KNOWN] + passed[:MAX_PASSED]
        return Val(tuple(kept), Open.UNKNOWN, TOO_MANY, None, runtime)
    return Val(tuple(items), open_, why, tuple(fields.items()) if fields is not None else None, runtime)


def dict_val(fields: dict[str, Val], open_: Open | None = None, why: str = "") -> Val:
    return Val(open=open_, why=why, fields=tuple(fields.items()))


def map_strings(val: Val, fn: object) -> Val:
    """Apply a str -> str function to every string constant (``.lower()``); other constants become unknown."""
    out: list[Known] = []
    for item in val.known:
        if isinstance(item.value, str) and callable(fn):
            out.append(Known(fn(item.value), item.site, item.opt_in))
        else:
            return unknown(val.why or "a non-string value")
    return Val(tuple(out), val.open, val.why, None, val.runtime)


@dataclass
class Truth:
    """Whether a condition can be true / false given the known constants, and whether run time can decide it."""

    can_true: bool = False
    can_false: bool = False
    open: Open | None = None

    @property
    def project_true(self) -> bool:
        return self.can_true

    def feasible(self, positive: bool) -> bool:
        """Can this branch be taken at all (by the project's values or by a run-time choice)?"""
        return (self.can_true if positive else self.can_false) or self.open is not None


@dataclass
class Guard:
    """One condition on the path to a call: the test's source text and which branch the path took."""

    text: str
    positive: bool
    opt_in: bool = False  # the test is an explicit operator opt-in to remote code
    truth: Truth = field(default_factory=Truth)

    def __str__(self) -> str:
        return self.text if self.positive else f"not ({self.text})"


__all__ = ["Const", "Guard", "Known", "Lazy", "force", "MAX_KNOWN", "MAX_PASSED", "NOTHING", "TOO_MANY", "Open", "Truth", "Val", "const", "dict_val", "join",
           "map_strings", "option", "unknown"]
