"""The API page (book/api.md): the signatures it writes out by hand (where autodoc would print a raw repr such as
`<factory>` or `<built-in function print>`) stay those of the code, and every object it documents exists."""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest
import torch

API_PAGE = Path(__file__).resolve().parents[1] / "book" / "api.md"
DIRECTIVE = re.compile(r"^\.\. auto(module|function|class|exception|method)::\s+([\w.]+)(?:\((.*)\))?\s*$", re.M)


def _object(dotted: str):
    module, _, name = dotted.rpartition(".")
    try:
        return importlib.import_module(dotted)
    except ImportError:
        return getattr(importlib.import_module(module), name)


def _directives():
    return DIRECTIVE.findall(API_PAGE.read_text())


def _explicit():
    return [(dotted, sig) for kind, dotted, sig in _directives() if kind != "module" and sig != ""]


def test_every_documented_object_exists():
    for _, dotted, _ in _directives():
        _object(dotted)


def _actual_default(obj, name: str, param: inspect.Parameter):
    if dataclasses.is_dataclass(obj):
        field = {f.name: f for f in dataclasses.fields(obj)}.get(name)
        if field is not None and field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
    return param.default


@pytest.mark.parametrize("dotted, sig", _explicit())
def test_written_out_signature_matches_the_code(dotted, sig):
    obj = _object(dotted)
    real = inspect.signature(obj).parameters
    if not sig.strip():  # `Protocol()`: a class without an __init__ of its own
        assert list(real) == ["args", "kwargs"], f"{dotted} takes parameters; write them out in api.md"
        return
    args = ast.parse(f"def f({sig}): pass").body[0].args
    written = [a.arg for a in args.args]
    assert written == list(real), f"api.md's signature of {dotted} names {written}, the code {list(real)}"
    namespace = {**vars(inspect.getmodule(obj)), "torch": torch, "contextlib": contextlib}
    defaults = dict(zip(written[len(written) - len(args.defaults):], args.defaults))
    for name, param in real.items():
        assert (name in defaults) == (param.default is not inspect.Parameter.empty), f"{dotted}: default of {name}"
        if name in defaults:
            value = eval(compile(ast.Expression(defaults[name]), "api.md", "eval"), namespace)
            assert value == _actual_default(obj, name, param), f"{dotted}: api.md's default of {name} is not the code's"


# --------------------------------------------------------------- every documented parameter described

BLOCK = re.compile(r"^\.\. auto(module|function|class|exception)::\s+([\w.]+)(?:\(.*\))?\s*\n((?:[ \t]+:.*\n)*)", re.M)
ARG = re.compile(r"^ {4}\*{0,2}(\w+)(?: \(.*?\))?:")


def _option(options: str, name: str) -> list[str] | None:
    m = re.search(rf":{name}:(.*)", options)
    return None if m is None else [n.strip() for n in m.group(1).split(",") if n.strip()]


def _members(obj, names: list[str], excluded: list[str]):
    """What autodoc documents of `obj` under `:members:` (with names: those; without: the public ones)."""
    if not names:
        names = getattr(obj, "__all__", None) or [
            n for n, v in vars(obj).items() if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v)) and getattr(v, "__module__", None) == obj.__name__]
    return [(f"{obj.__name__}.{n}", getattr(obj, n)) for n in names if n not in excluded]


def _methods(cls, excluded: list[str]):
    """The public methods of `cls` with a docstring of their own (autodoc leaves the others out)."""
    for name, value in vars(cls).items():
        fn = getattr(value, "__func__", value)
        if not name.startswith("_") and name not in excluded and inspect.isfunction(fn) and fn.__doc__:
            yield f"{cls.__module__}.{cls.__qualname__}.{name}", fn


def _documented():
    """(dotted name, object) of every function, class and documented method the API page renders."""
    out = []
    for kind, dotted, options in BLOCK.findall(API_PAGE.read_text()):
        obj, members, excluded = _object(dotted), _option(options, "members"), _option(options, "exclude-members") or []
        found = _members(obj, members, excluded) if kind == "module" and members is not None else (
            [] if kind == "module" else [(dotted, obj)])
        for name, value in found:
            out.append((name, value))
            if inspect.isclass(value) and (kind == "module" or members is not None):
                out += list(_methods(value, excluded))
    return out


def _described(doc: str | None) -> set[str]:
    """The names a Google-style docstring describes under `Args:` (or `Attributes:`)."""
    names, inside = set(), False
    for line in inspect.cleandoc(doc or "").splitlines():
        if line.strip() in ("Args:", "Attributes:"):
            inside = True
        elif inside and line and not line.startswith(" "):
            inside = False
        elif inside and (m := ARG.match(line)):
            names.add(m.group(1))
    return names


def _parameters(obj) -> list[str]:
    try:
        signature = inspect.signature(obj)
    except ValueError:  # an exception class with the built-in constructor
        return []
    params = [p for p in signature.parameters.values() if p.name not in ("self", "cls")]
    if [p.kind for p in params] == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]:
        return []  # a Protocol's (*args, **kwargs): nothing to describe
    return [p.name for p in params]


DOCUMENTED = _documented()


@pytest.mark.parametrize("dotted, obj", DOCUMENTED, ids=[dotted for dotted, _ in DOCUMENTED])
def test_every_parameter_is_described(dotted, obj):
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return  # a constant (e.g. STREAMS)
    missing = [p for p in _parameters(obj) if p not in _described(obj.__doc__)]
    assert not missing, f"{dotted}: the docstring's Args: does not describe {missing}"
