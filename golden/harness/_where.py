"""Where an exception was raised in the implementation's own code, named as pytest's short tracebacks
name it: ``my_neuron.py:14``, or ``cell In[3], line 14`` for a class defined in a notebook.

It is the innermost frame of the traceback in the implementation's own files: not in the standard
library, an installed package or this toolkit, so numpy raising inside the learner's line 14 is named
line 14. A file is named as the user named IMPL's folder (``submissions/bob/helpers.py:3``), else from the
parent's working folder; a notebook cell by the label IPython gives it. This runs in the implementation's
process; what it finds is that process's text, which the parent shortens and shows, never trusts.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
import traceback
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import Any

_TOOLKIT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_WHERE = 160  # characters of a place shown


@dataclass
class Places:
    """How to name the places in the implementation loaded in this process."""

    folder: str = ""  # IMPL's folder, absolute, for a spec that names a file
    shown_folder: str = ""  # that folder as the user named it
    cwd: str = ""  # the parent's working folder
    code: dict[str, str] = field(default_factory=dict)  # a class sent by value: see ``code_places``
    libraries: tuple[str, ...] = ()

    def configure(self, request: dict[str, Any]) -> None:
        """Take the names from a load request (``golden.harness._child``): its file as shown, the parent's
        working folder, and for a class sent by value where its code came from."""
        path, _, _ = str(request.get("load", "")).rpartition(":")
        shown, _, _ = str(request.get("shown", "")).rpartition(":")
        if "load_pickled" not in request and os.path.isabs(path):
            self.folder, self.shown_folder = os.path.dirname(path), os.path.dirname(shown)
        self.cwd = str(request.get("cwd", ""))
        code = request.get("code")
        if isinstance(code, dict):
            self.code = {str(k): str(v) for k, v in code.items()}
        self.libraries = _libraries()

    def where(self, e: BaseException) -> str | None:
        """The implementation's own place where `e` was raised, innermost first; None when none is."""
        found = None
        for frame, line in traceback.walk_tb(e.__traceback__):
            code = frame.f_code
            if (prefix := self.code.get(key(code))) is not None:
                found = f"{prefix}{line}"
            elif not (code.co_filename.startswith("<") or _within(code.co_filename, self.libraries)):
                found = f"{self.prefix(code.co_filename)}{line}"
        return None if found is None else found[:MAX_WHERE]

    def prefix(self, path: str) -> str:
        """What a line number follows, in a file's place: ``my_neuron.py:`` (IMPL's folder as the user
        named it, else from the parent's working folder)."""
        if self.folder and _within(path, (self.folder,)):
            path = os.path.join(self.shown_folder, os.path.relpath(path, self.folder))
        elif self.cwd and _within(path, (self.cwd,)):
            path = os.path.relpath(path, self.cwd)
        return f"{path}:"


PLACES = Places()


def raised(kind: str, where: str | None, message: str) -> str:
    """How a report words an exception: ``AttributeError at my_neuron.py:14: no attribute 'aplha'``."""
    head = f"{kind} at {where}" if where else kind
    return f"{head}: {message}" if message else head


def _libraries() -> tuple[str, ...]:
    """The folders whose code is not the implementation's: the standard library's, the installed
    packages', and this toolkit's own packages."""
    paths = sysconfig.get_paths()
    folders = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    folders |= {*site.getsitepackages(), site.getusersitepackages()}
    folders |= {os.path.join(_TOOLKIT, package) for package in ("golden", "oracle", "neuron")}
    return tuple(sorted(f for f in folders if f and f != os.sep))


def _within(path: str, folders: tuple[str, ...]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def key(code: CodeType) -> str:
    """A code object's name where cloudpickle keeps it: it sends every code object's file name as
    ``<dynamic-code>``, and keeps its qualified name and first line."""
    return f"{getattr(code, 'co_qualname', code.co_name)}@{code.co_firstlineno}"  # co_qualname: 3.11


def code_places(impl: type) -> dict[str, str]:
    """For a class about to be sent by value (in the parent): each of its functions' code, and of the
    functions of its module they call, by ``key``, mapped to what a line number follows in its place:
    ``cell In[3], line `` for a notebook cell, else its file's (``Places.prefix``)."""
    cells = _notebook_cells()
    places = Places(cwd=os.getcwd())
    module = vars(sys.modules[impl.__module__]) if impl.__module__ in sys.modules else {}
    found: dict[str, str] = {}
    seen: set[int] = set()
    todo = [c for k in impl.__mro__ if k.__module__ == impl.__module__ for c in _codes(vars(k).values())]
    while todo:
        code = todo.pop()
        if id(code) in seen:
            continue
        seen.add(id(code))
        name = code.co_filename
        found[key(code)] = f"{cells[name]}, line " if name in cells else places.prefix(name)
        todo += [c for c in code.co_consts if isinstance(c, CodeType)]  # nested functions, lambdas
        todo += _codes(module[n] for n in code.co_names if n in module and _ours(module[n], impl.__module__))
    return found


def _codes(values: Any) -> list[CodeType]:
    """The code of each function among `values`, unwrapping methods, properties and static methods."""
    codes = []
    for value in values:
        for part in (value, getattr(value, "__func__", None), getattr(value, "fget", None)):
            if isinstance(part, FunctionType):
                codes.append(part.__code__)
    return codes


def _ours(value: Any, module: str) -> bool:
    """Whether `value` is a function or class of `module` (sent by value with the class)."""
    return isinstance(value, FunctionType | type) and getattr(value, "__module__", None) == module


def _notebook_cells() -> dict[str, str]:
    """In an IPython kernel, the label IPython gives each cell's code (``cell In[3]``), by its file name;
    elsewhere nothing. Read from the kernel's compiler, as IPython's own tracebacks do."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython else None
    numbers = getattr(getattr(shell, "compile", None), "_filename_map", None)
    if not isinstance(numbers, dict):
        return {}
    return {str(name): f"cell In[{number}]" for name, number in numbers.items()}
