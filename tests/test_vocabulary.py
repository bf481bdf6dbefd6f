"""One word per idea: each stage's name is spelled once, in the table of ``golden.outcome``.

Every other module of ``golden`` names a stage through the table (``W_NEW.name``, ``STAGE[...]``, the
stages with a ``size``, ``step`` or ``helper``), so that adding or renaming a stage is one edit. A name is
"spelled" where a string constant equals it: a literal, a dict key (the keys of the golden files' JSON
documents included) or a subscript. The oracle is exempt: it defines the formulas, under the seed's names.
Identifiers are not strings and are not counted: the fields of the typed records that mirror a golden
file's keys (``_case.Expected.dJ_dw``, ``StepValues.w_new``), which mypy checks, and keyword arguments.
"""

from __future__ import annotations

import ast

import pytest
from helpers import REPO

from golden.files import _document as document
from golden.files.store import load_set
from golden.harness import _beside as beside
from golden.outcome import (
    STAGE,
    STAGES,
    TRAJECTORY,
    VALUES,
    stage_index,
    step_name,
)

GOLDEN = REPO / "golden"
TABLE = GOLDEN / "outcome.py"
NAMES = frozenset(s.name for s in STAGES)

# Modules whose string constants equal a stage's name but mean something else, each with why; nothing
# else may. test_the_allowlist_is_no_longer_than_needed says when an entry can go.
ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "golden/harness/_boot.py": (frozenset({"a"}), "open(path, 'a'): a file mode, not the stage"),
}


def spelled(source: str) -> list[tuple[int, str]]:
    """Each place `source` spells a stage's name: (line, name)."""
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES
    )


def modules() -> dict[str, list[tuple[int, str]]]:
    """Every module of golden but the table, by its path from the repository, with what it spells."""
    return {
        path.relative_to(REPO).as_posix(): spelled(path.read_text(encoding="utf-8"))
        for path in sorted(GOLDEN.rglob("*.py"))
        if path != TABLE
    }


def test_the_table_is_in_the_seeds_order() -> None:
    assert [s.name for s in STAGES] == [
        "parameters",
        "z",
        "a",
        "da_dz",
        "J",
        "dJ_dw",
        "dJ_db",
        "w_new",
        "b_new",
        "trajectory",
    ]


def test_a_stage_name_is_found_as_a_literal_a_json_key_and_a_subscript() -> None:
    source = 'x = "dJ_dw"\ndoc = {"z": 1, "loss": 2}\ny = doc["a"]\nz = f"{doc} a"\nJ = 1\n'
    assert spelled(source) == [(1, "dJ_dw"), (2, "z"), (3, "a")]


def test_stage_names_are_spelled_only_in_the_table() -> None:
    stray = [
        f"{path}:{line}: {name!r}"
        for path, found in modules().items()
        for line, name in found
        if name not in ALLOWED.get(path, (frozenset(), ""))[0]
    ]
    assert not stray, "spell these through golden.outcome's table (STAGE, W_NEW.name …):\n" + "\n".join(stray)


def test_the_allowlist_is_no_longer_than_needed() -> None:
    found = modules()
    unneeded = {
        path: sorted(names - {name for _, name in found.get(path, [])})
        for path, (names, _) in ALLOWED.items()
    }
    assert not {path: names for path, names in unneeded.items() if names}, "remove these from ALLOWED"


# -- what the table says, against what the modules that read it hold ------------------------------------


def test_the_values_are_the_stages_with_a_size_and_every_step_and_helped_stage_is_one() -> None:
    assert [s.name for s in VALUES] == ["z", "a", "da_dz", "J", "dJ_dw", "dJ_db", "w_new", "b_new"]
    assert {s.name for s in STAGES if s.step} == {"dJ_dw", "dJ_db", "w_new", "b_new"}
    assert {s.name for s in STAGES if s.helper} == {"z", "a", "dJ_dw", "dJ_db", "w_new", "b_new"}
    assert all(s in VALUES for s in STAGES if s.step or s.helper)


def test_a_golden_file_holds_every_value_sized_as_the_table_says() -> None:
    case = load_set("v3", names=["training_trajectory"]).cases["training_trajectory"]
    doc, m, n = case.document, case.inputs.m, case.inputs.n
    expected = doc["expected"]
    assert list(expected) == [*document.EXPECTED, TRAJECTORY.name]
    assert {s.name for s in VALUES} == set(document.EXPECTED) - {document.DJ_DA}
    lengths = {"rows": m, "features": n}
    for stage in VALUES:
        value = expected[stage.name]
        assert (len(value) if isinstance(value, list) else "one") == lengths.get(stage.size or "", "one")
    for step in expected[TRAJECTORY.name]:
        assert set(step) - {"loss"} == {s.name for s in STAGES if s.step}
    assert set(doc["bounds"]["float32"]) == {"w", "b", *document.EXPECTED, TRAJECTORY.name}


def test_the_helper_answers_for_the_stages_the_table_gives_it() -> None:
    request = {
        "X": [[1.0, 2.0], [0.5, -1.0]],
        "y": [1.0, 0.0],
        "w": [0.1, -0.2],
        "b": 0.3,
        "alpha": 0.01,
        "activation": "leaky_relu",
        "lr": 0.1,
        "precision": "float32",
        "conventions": {},
    }
    answer = beside.compute(request)
    assert answer is not None
    assert set(answer) == {s.name for s in STAGES if s.helper} | {"w", "b"}


# -- a trajectory's steps: a stage and a number ----------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 12])
def test_a_step_is_named_from_the_table(k: int) -> None:
    assert step_name(k) == f"trajectory step {k}"


def test_stage_index_follows_the_table_and_refuses_what_is_no_stage() -> None:
    assert [stage_index(s.name) for s in STAGES] == list(range(len(STAGES)))
    assert stage_index("da_dz") < stage_index("J") == STAGES.index(STAGE["J"])
    for name in ("trajectoryX", step_name(3), "dJ_da", "forward_is_row_wise"):
        with pytest.raises(ValueError, match="is not a stage"):
            stage_index(name)


def test_the_scan_reads_every_module_of_golden_but_the_table() -> None:
    found = modules()
    assert {"golden/harness/_beside.py", "golden/files/_document.py", "golden/cli.py"} <= set(found)
    assert TABLE.relative_to(REPO).as_posix() not in found
