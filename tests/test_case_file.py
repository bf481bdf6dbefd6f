"""A case file of the user's own (``golden.files._casefile``): run as code in a child, sent back as data.

Its cases' documents are what ``golden.files._document.build`` gives for the same inputs in this process,
and the tiny case's values are derived by hand; every way a case file can fail is one line naming the file
and the case, with nothing left running and nothing written; the bundled ``CASES`` never changes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import alive

from golden.errors import CaseFileError
from golden.files._casefile import load_case_file
from golden.files._casefile_child import values
from golden.files._document import build
from golden.files.store import MAX_VALUES, extent
from golden.harness._sandbox import Limits
from oracle import CASES, ORACLE_VERSION, Case, Result, case, create_backprop_test_case
from oracle.registry import collecting

BUNDLED = "negative_gradients_increase_weights"
BEFORE = dict(CASES)  # the bundled cases, as this module found them
ROWS = [["1", "-2.5", "0.75"], ["0.5", "1.25", "-1"]]  # rows.csv: x1, x2, y, as decimal text
NPY_X = [[0.25, -1.5], [3.0, 0.125]]  # X.npy, float64 (every value exact in binary)
CASE_FILE = '''\
import csv
from pathlib import Path

import numpy as np
from my_helpers import LEARNING_RATE

from oracle import case, create_backprop_test_case


@case("z > 0, so da_dz is 1", lambda r: r.first.da_dz == (1,))
def tiny():
    """One row, inputs as numbers."""
    return create_backprop_test_case([[1, 2]], [1], [0.5, -0.25], 0.125, 0.1)


@case("a decimal string is read exactly", lambda r: r.first.z[0] != 0)
def decimal_strings():
    """Inputs as decimal strings."""
    return create_backprop_test_case([["0.1", "-2.5"]], "1.5", ["0.3", "0.4"], "0.1", "0.01", alpha="0.2")


@case("two rows from the CSV", lambda r: len(r.inputs.X) == 2)
def from_csv():
    """Rows read from rows.csv in the working folder, the case file's own."""
    with open("rows.csv", newline="") as f:
        rows = list(csv.reader(f))
    X, y = [r[:2] for r in rows], [r[2] for r in rows]
    return create_backprop_test_case(X, y, [1, -1], 0, LEARNING_RATE, steps=3)


@case("X from the .npy", lambda r: len(r.inputs.w) == 2)
def from_npy():
    """X read from X.npy beside this file, with numpy."""
    X = np.load(Path(__file__).with_name("X.npy")).tolist()
    return create_backprop_test_case(X, [0.0, 1.0], [0.5, 0.5], 0.0, 0.1, activation="sigmoid")


@case("a user case may share a bundled name", lambda r: r.inputs.b == 7)
def negative_gradients_increase_weights():
    """Not the bundled case of this name."""
    return create_backprop_test_case([[1.0]], 1.0, [1.0], 7, 0.5, activation="identity")
'''


def expected(name: str, description: str, claim: str, make: Callable[[], Result]) -> dict[str, Any]:
    """The document ``build`` gives in this process for a case made by `make`."""
    return build(Case(name, description, claim, lambda r: True, make), 2, ORACLE_VERSION)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, float]:
    """The case file above, with its CSV and .npy beside it, loaded once; and how long that took."""
    folder = tmp_path_factory.mktemp("user")
    (folder / "my_cases.py").write_text(CASE_FILE)
    (folder / "my_helpers.py").write_text('LEARNING_RATE = "0.05"\n')  # a module beside it is importable
    (folder / "csv.py").write_text("raise ImportError('the folder came before the standard library')\n")
    (folder / "rows.csv").write_text("".join(",".join(row) + "\n" for row in ROWS))
    np.save(folder / "X.npy", np.array(NPY_X))
    start = time.monotonic()
    return load_case_file(folder / "my_cases.py", timeout=20), time.monotonic() - start


def test_each_case_is_the_document_build_gives_for_the_same_inputs(loaded: tuple[Any, float]) -> None:
    documents = loaded[0].documents
    assert list(documents) == ["tiny", "decimal_strings", "from_csv", "from_npy", BUNDLED]  # in order
    X, y = [r[:2] for r in ROWS], [r[2] for r in ROWS]
    assert documents["from_csv"] == expected(
        "from_csv",
        "Rows read from rows.csv in the working folder, the case file's own.",
        "two rows from the CSV",
        lambda: create_backprop_test_case(X, y, [1, -1], 0, "0.05", steps=3),
    )
    assert documents["from_npy"] == expected(
        "from_npy",
        "X read from X.npy beside this file, with numpy.",
        "X from the .npy",
        lambda: create_backprop_test_case(NPY_X, [0.0, 1.0], [0.5, 0.5], 0.0, 0.1, activation="sigmoid"),
    )
    assert documents["decimal_strings"] == expected(
        "decimal_strings",
        "Inputs as decimal strings.",
        "a decimal string is read exactly",
        lambda: create_backprop_test_case(
            [["0.1", "-2.5"]], "1.5", ["0.3", "0.4"], "0.1", "0.01", alpha="0.2"
        ),
    )
    assert documents["from_csv"]["inputs"]["X"] == [[1.0, -2.5], [0.5, 1.25]]
    assert len(documents["from_csv"]["expected"]["trajectory"]) == 3


def test_the_tiny_case_holds_the_values_derived_by_hand(loaded: tuple[Any, float]) -> None:
    document = loaded[0].documents["tiny"]
    # X = [[1, 2]], w = [0.5, −0.25], b = 0.125, y = [1], lr = 0.1, leaky ReLU:
    # z = 1·0.5 + 2·(−0.25) + 0.125 = 0.125 > 0, so a = z = 0.125 and da_dz = 1
    # J = ½(a − y)² = ½(−0.875)² = 0.3828125; dJ_da = a − y = −0.875
    # dJ_dw = dJ_da·da_dz·x = −0.875·[1, 2] = [−0.875, −1.75]; dJ_db = −0.875
    # w_new = w − 0.1·dJ_dw = [0.5 + 0.0875, −0.25 + 0.175] = [0.5875, −0.075]; b_new = 0.125 + 0.0875
    assert document["expected"] == {
        "z": [0.125],
        "a": [0.125],
        "J": [0.3828125],
        "dJ_da": [-0.875],
        "da_dz": [1.0],
        "dJ_dw": [-0.875, -1.75],
        "dJ_db": -0.875,
        "w_new": [0.5875, -0.075],
        "b_new": 0.2125,
    }
    assert document["inputs"]["X"] == [[1.0, 2.0]] and document["claim"] == "z > 0, so da_dz is 1"


def test_a_user_case_may_share_a_bundled_name_and_the_bundled_cases_do_not_change(
    loaded: tuple[Any, float],
) -> None:
    mine = loaded[0].documents[BUNDLED]
    assert mine["inputs"]["b"] == 7.0 and mine["description"] == "Not the bundled case of this name."
    assert BEFORE == CASES
    before = dict(CASES)
    with collecting() as registry:
        case("shadows a bundled case", lambda r: True)(CASES[BUNDLED].build)
    assert list(registry) == [BUNDLED] and registry[BUNDLED] is not CASES[BUNDLED]
    assert before == CASES and all(CASES[name] is before[name] for name in before)


def test_the_file_is_hashed_as_read_and_loads_fast(loaded: tuple[Any, float]) -> None:
    import hashlib

    result, seconds = loaded
    assert result.sha256 == hashlib.sha256(result.path.read_bytes()).hexdigest()
    assert seconds < 10, seconds


def test_a_name_defined_twice_in_one_registry_is_refused_naming_it() -> None:
    with collecting(), pytest.raises(ValueError, match=r"^case twice is defined twice$"):
        for _ in range(2):
            case("twice", lambda r: True)(_named("twice"))


def test_the_admit_hook_sees_the_size_before_the_oracle_reads_anything() -> None:
    seen = []

    def admit(m: int, n: int, steps: int) -> None:
        seen.append((m, n, steps))
        raise OverflowError("refused")

    # X's second row is short: the oracle would raise ValueError, had it run
    with collecting(admit), pytest.raises(OverflowError, match="refused"):
        create_backprop_test_case([[1, 2], [3]], 0, [1, 1], 0, 0.1, steps=4)
    assert seen == [(2, 2, 4)]


@pytest.mark.parametrize("name", [BUNDLED, "training_trajectory", "sigmoid_batch", "many_features"])
def test_the_size_estimate_counts_the_values_the_golden_file_holds(name: str) -> None:
    bundled = CASES[name]  # one step, five steps, decimal arithmetic, 64 features
    inputs = bundled.run().inputs
    document = build(bundled, 2, ORACLE_VERSION)
    assert values(len(inputs.X), len(inputs.w), inputs.steps) == extent(document)[1]


def _named(name: str) -> Callable[[], Result]:
    def make() -> Result:
        return create_backprop_test_case([[1.0]], 1.0, [1.0], 0.0, 0.1)

    make.__name__ = name
    return make


# -- each way a case file fails: one line naming the file and the case ----------------------------

HEAD = "from oracle import case, create_backprop_test_case\nimport os, sys, time\n\n"
QUIET = ": a case file must not write to stdout or stderr"
GOOD = "    return create_backprop_test_case([[1.0]], 1.0, [1.0], 0.0, 0.1)\n"


def body(name: str, *lines: str, claim: str = "true") -> str:
    """A case `name` whose function runs `lines`, then returns a good Result."""
    code = "".join(f"    {line}\n" for line in lines)
    return f"@case({claim!r}, lambda r: True)\ndef {name}():\n    '''{name}'''\n{code}{GOOD}\n"


FAILURES = {
    "import raises": (
        "x = 1\nundefined_name\n",  # line 5 of the file: HEAD is three lines
        "my_cases.py: importing it raised NameError at my_cases.py:5: name 'undefined_name' is not defined",
    ),
    "syntax error": (
        "def broken(:\n",
        "my_cases.py: importing it raised SyntaxError at my_cases.py:4: invalid syntax",
    ),
    "case raises": (
        body("divides", "1 / 0"),  # lines 4–6 are the decorator, def and docstring: line 7
        "my_cases.py: case divides raised ZeroDivisionError at my_cases.py:7: division by zero",
    ),
    "claim fails": (
        "@case('dJ_db > 0', lambda r: r.first.dJ_db > 0)\ndef wrong():\n    '''w'''\n" + GOOD,
        "my_cases.py: case wrong: claim does not hold: dJ_db > 0",
    ),
    "no Result": (
        "@case('c', lambda r: True)\ndef returns_dict():\n    '''r'''\n    return {'z': 1}\n",
        "my_cases.py: case returns_dict returned a dict, not a Result: a case returns "
        "create_backprop_test_case(...)",
    ),
    "prints": (
        body("noisy", "print('debugging: z is', 0.5)"),
        "my_cases.py: case noisy printed 'debugging: z is 0.5'" + QUIET,
    ),
    "writes fd 2": (
        body("noisy_c", "os.write(2, b'warning from C\\n')"),
        "my_cases.py: case noisy_c printed 'warning from C'" + QUIET,
    ),
    "prints at import": (
        "print('loading')\n" + body("quiet"),
        "my_cases.py: importing it printed 'loading'" + QUIET,
    ),
    "sys.exit": (
        body("quits", "sys.exit(3)"),
        "my_cases.py: case quits raised SystemExit at my_cases.py:7: 3",
    ),
    "os._exit": (body("ends", "os._exit(3)"), "my_cases.py: case ends ended its process (exit code 3)"),
    "no case": (
        "x = 1\n",
        "my_cases.py: defines no case: a case is a function decorated with @case (from oracle import case)",
    ),
    "defined twice": (
        body("twice") + body("twice"),
        "my_cases.py: importing it raised ValueError at my_cases.py:9: case twice is defined twice",
    ),
    "too large": (
        # m = 10,000, n = 300, 60 steps: 76 + 27m + 15n + m·n + 5 + 60·(26 + 10n)
        # = 76 + 270,000 + 4,500 + 3,000,000 + 5 + 181,560 = 3,456,141 values (values(), checked above)
        "@case('c', lambda r: True)\ndef big():\n    '''b'''\n"
        "    return create_backprop_test_case([[1] * 300] * 10_000, 1, [1] * 300, 0, 0.1, steps=60)\n",
        "my_cases.py: case big: 10,000 rows × 300 features, 60 steps: about 3,456,141 values; "
        f"a golden file holds at most {MAX_VALUES:,}",
    ),
    "too large, caught": (
        body(
            "sly",
            "try: create_backprop_test_case([[1] * 1000] * 1000, 1, [1] * 1000, 0, 0.1)",
            "except Exception: pass",
        ),
        "my_cases.py: case sly: 1,000 rows × 1,000 features, 1 step: about 1,042,076 values; "
        f"a golden file holds at most {MAX_VALUES:,}",
    ),
    "sends bytes that are not JSON": (
        body("forger", "os.write(int(sys.argv[2]), b'\\0\\0\\0\\5hello')", "time.sleep(5)"),
        "my_cases.py: case forger: its reply: not JSON: Expecting value at line 1 column 1",
    ),
    "sends NaN": (
        body("nan", "os.write(int(sys.argv[2]), b'\\0\\0\\0\\15{\"done\": NaN}')", "time.sleep(5)"),
        "my_cases.py: case nan: its reply: NaN is not a number a golden file may hold",
    ),
    "sends a frame too large": (
        body("huge", "os.write(int(sys.argv[2]), b'\\x7f\\0\\0\\0')", "time.sleep(5)"),
        "my_cases.py: case huge: its reply: 2,130,706,432 bytes; a golden file holds at most 16,777,216",
    ),
    "out of memory": (
        body("greedy", "bytearray(1 << 30)"),
        "my_cases.py: case greedy raised MemoryError at my_cases.py:7",
    ),
}


@pytest.mark.parametrize("kind", list(FAILURES))
def test_a_failing_case_file_is_one_line_naming_it_and_the_case(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, line = FAILURES[kind]
    (tmp_path / "my_cases.py").write_text(HEAD + source)
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(CaseFileError) as raised:
        load_case_file(Path("my_cases.py"), timeout=4, limits=Limits(memory=512 << 20))
    assert str(raised.value) == line
    assert sorted(os.listdir(tmp_path)) == before  # nothing written: no bytecode, no output


@pytest.mark.parametrize(
    ("where", "line"),
    [("import", "importing it did not finish within 1 s"), ("case", "case slow did not finish within 1 s")],
)
def test_a_hang_is_stopped_within_the_timeout_and_leaves_no_process(
    where: str, line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the file records its own pid and that of a process it starts in a session of its own, which a kill
    # of its process group does not reach, then hangs
    hang = [
        "import subprocess",
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True)",
        "open('pids', 'w').write(f'{os.getpid()} {p.pid}')",
        "time.sleep(60)",
    ]
    source = "".join(f"{s}\n" for s in hang) if where == "import" else body("slow", *hang)
    (tmp_path / "my_cases.py").write_text(HEAD + source)
    monkeypatch.chdir(tmp_path)
    start = time.monotonic()
    with pytest.raises(CaseFileError, match=f"^my_cases.py: {line}$"):
        load_case_file(Path("my_cases.py"), timeout=1)
    assert time.monotonic() - start < 4
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)


def test_a_child_that_cannot_be_limited_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_cases.py").write_text(HEAD + body("fine"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CaseFileError, match=r"^my_cases.py: its process could not be started: the process"):
        load_case_file(Path("my_cases.py"), limits=Limits(open_files=-5))  # past any hard limit


def test_a_file_that_is_not_python_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_cases.txt").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CaseFileError, match=r"^my_cases.txt: expected a Python file \(.py\)"):
        load_case_file(Path("my_cases.txt"))
