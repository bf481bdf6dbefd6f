"""`neuron-oracle scaffold PATH`: write a starter neuron for the red-green-refactor cycle."""

from __future__ import annotations

from pathlib import Path

from golden.errors import OptionError
from golden.files._atomic import write_atomically
from golden.files.store import display

TEMPLATE = Path(__file__).parent / "templates" / "starter_neuron.py.tmpl"


def scaffold(path: Path, force: bool = False) -> str:
    """Write the starter neuron to `path` (never over an existing file without `force`); the tdd command."""
    if path.suffix != ".py":
        raise OptionError(f"PATH {display(path)}: expected a .py file")
    if path.exists() and not force:
        raise OptionError(f"PATH {display(path)} exists; choose another name or pass --force to overwrite")
    command = f"neuron-oracle tdd {display(path)}:Neuron"
    text = TEMPLATE.read_text(encoding="utf-8").replace("{tdd_command}", command)
    write_atomically(path.parent if str(path.parent) else Path("."), {path.name: text.encode("utf-8")})
    return command
