"""A typed config dataclass is also its command line: options, help and defaults come from its fields.

    @dataclass(frozen=True)
    class Config:
        epochs: int = opt(100, "training epochs")
        threshold_p: float = opt(0.1, "spotting threshold p", live=True, flags=("--threshold",))

    add_options(parser, Config)                      # --epochs N, --threshold-p/--threshold P
    cfg = from_options(Config, parser.parse_args())  # only the options given override the defaults

A field's metadata says what the CLI and the running code need: ``help``; ``live`` (may change while a
stream runs); ``flags`` (extra option names); ``choices``; ``const`` (the option may stand alone:
``--ray`` means ``--ray auto``); ``cli=False`` (not an option). Options are given as
``argparse.SUPPRESS`` defaults, so a config built from no options is the dataclass's own: the defaults
are written down once. Lists and tuples are comma-separated; booleans get ``--x/--no-x``.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path

MISSING = dataclasses.MISSING


def opt(default=MISSING, help: str = "", *, live: bool = False, flags: tuple[str, ...] = (),  # noqa: A002
        choices=None, cli: bool = True, factory=None, **meta):
    """A dataclass field with its CLI help; ``factory`` for mutable defaults."""
    md = {"help": help, "live": live, "flags": tuple(flags), "choices": choices, "cli": cli, **meta}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=md)
    return dataclasses.field(default=default, metadata=md)


def live_fields(cls) -> frozenset[str]:
    """Names of the fields that may change while running."""
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("live"))


def _default(f: dataclasses.Field):
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _base(tp):
    """(scalar type, is a sequence, sequence type) of an annotation such as ``list[str] | None``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return _base(args[0]) if len(args) == 1 else (str, False, None)
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        return (args[0] if args else str), True, origin
    return tp, False, None


def _show(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


def _seq(kind, container):
    def parse(text: str):
        try:
            items = [kind(s.strip()) for s in text.split(",") if s.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__} values separated by commas, got {text!r}") from None
        return container(items)
    return parse


def _optional(kind):
    """``none`` on the command line means None for an optional number."""
    def parse(text: str):
        return None if text.strip().lower() == "none" else kind(text)
    parse.__name__ = kind.__name__
    return parse


def add_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = (), group: str | None = None,
                defaults: dict[str, str] | None = None):
    """An option per field of ``cls`` (not in ``skip``, not ``cli=False``); returns the names added.
    ``defaults``: what a front end puts in place of a field's default when the option is not given."""
    hints = typing.get_type_hints(cls)
    target = parser.add_argument_group(group) if group else parser
    added = []
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.metadata.get("cli", True):
            continue
        default = _default(f)
        kind, is_seq, container = _base(hints[f.name])
        names = [f"--{f.name.replace('_', '-')}", *f.metadata.get("flags", ())]
        text = f.metadata.get("help", "")
        if defaults and f.name in defaults:
            text = f"{text} (default: {defaults[f.name]})"
        else:
            text = f"{text} (default: {_show(default)})" if default is not MISSING else f"{text} (required)"
        kw: dict = {"dest": f.name, "help": text.replace("%", "%%"), "default": argparse.SUPPRESS}
        if kind is bool and not is_seq:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            if is_seq:
                kw["type"] = _seq(kind, container or list)
                kw["metavar"] = f"{kind.__name__.upper()},..."
            elif kind is Path:
                kw["type"] = Path
            elif default is None and kind in (int, float):
                kw["type"] = _optional(kind)
            else:
                kw["type"] = kind
            if f.metadata.get("choices"):
                kw["choices"] = f.metadata["choices"]
            if "const" in f.metadata:  # the option may stand alone: a bare --x means x = const
                kw["nargs"], kw["const"] = "?", f.metadata["const"]
            if default is MISSING:
                kw["required"] = True
        target.add_argument(*names, **kw)
        added.append(f.name)
    return added


def from_options(cls, ns: argparse.Namespace, **base):
    """``cls`` with ``base``, then the options given in ``ns``, over its defaults."""
    names = {f.name for f in dataclasses.fields(cls) if f.metadata.get("cli", True)}
    given = {k: v for k, v in vars(ns).items() if k in names}
    return cls(**{**base, **given})


def to_dict(cfg) -> dict:
    """A config as JSON-ready values (paths as text, tuples as lists), every field."""
    def plain(v):
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v
    return {f.name: plain(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
