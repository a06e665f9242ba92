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
