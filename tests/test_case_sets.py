"""A user's case set on disk: written at once when new, reviewed when it would change (``<case>.json.new``,
accept, reject), never changed with CI set, frozen once released, and read back verified, a hand edit
refused by name (``golden.files._user``, ``golden.files._sets``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from golden.errors import GoldenError, ReleasedVersion
from golden.files import _user as user
from golden.files._diff import ADDED, CHANGED
from golden.files._document import build
from golden.files.store import MANIFEST, open_set
from oracle import ORACLE_VERSION, Case, Result, create_backprop_test_case


def document(name: str, b: str = "0.125", X: Any = (("1", "2"),)) -> dict[str, Any]:
    """The golden document of a one-neuron case with these inputs, as the oracle builds it."""
    inputs = ([list(r) for r in X], ["1"], ["0.5", "-0.25"], b, "0.1")
    case = Case(
        name, f"{name}, a user's case", "true", lambda r: True, lambda: create_backprop_test_case(*inputs)
    )
    return build(case, 2, ORACLE_VERSION)


def files(**docs: dict[str, Any]) -> dict[str, bytes]:
    return user.set_files(docs, "my_cases.py", "0" * 64, released=False)


def test_a_new_set_is_written_at_once_and_reads_back_verified(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    done = user.regenerate_set(folder, files(one=document("one"), two=document("two")))
    assert not done.pending and [c.kind for c in done.changes] == [ADDED, ADDED, ADDED]
    golden = open_set(str(folder))
    assert list(golden.cases) == ["one", "two"] and golden.version == str(folder)
    # z = X·w + b = 1·0.5 + 2·(−0.25) + 0.125 = 0.125 > 0, so a = z (by hand)
    assert golden.cases["one"].expected.z == [0.125] and golden.cases["one"].expected.a == [0.125]
    assert json.loads((folder / MANIFEST).read_text())["provenance"]["case_file"] == "my_cases.py"


def test_a_hand_edit_is_refused_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    user.regenerate_set(folder, files(one=document("one")))
    path = folder / "one.json"
    path.write_text(path.read_text().replace('"description": "one,', '"description": "One,'))
    with pytest.raises(GoldenError, match=r"one\.json: sha256 differs from manifest\.json: edited by hand"):
        open_set(str(folder))


def changed_set(tmp_path: Path) -> Path:
    """A set of cases one, two and three, regenerated from a file where two changed, three is gone and
    four is new: everything pending."""
    folder = tmp_path / "golden"
    user.regenerate_set(folder, files(one=document("one"), two=document("two"), three=document("three")))
    done = user.regenerate_set(
        folder, files(one=document("one"), two=document("two", b="0.25"), four=document("four"))
    )
    assert done.pending
    return folder


def test_a_change_is_written_beside_the_old_file_and_nothing_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    user.regenerate_set(folder, files(one=document("one"), two=document("two"), three=document("three")))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    done = user.regenerate_set(
        folder, files(one=document("one"), two=document("two", b="0.25"), four=document("four"))
    )
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before} == before
    assert (folder / "two.json.new").is_file() and (folder / "four.json.new").is_file()
    assert not (folder / "one.json.new").exists()
    lines = [c.line() for c in done.changes]
    assert any(line.startswith(f"changed {folder / 'two.json'}: inputs.b: 0.125 → 0.25") for line in lines), (
        lines
    )
    assert user.pending(folder) == {"two": CHANGED, "four": ADDED, "three": user.UNREFERENCED}
    assert list(open_set(str(folder)).cases) == ["one", "two", "three"]  # the set as it was


def test_accept_applies_every_pending_case_and_removes_an_unreferenced_one(tmp_path: Path) -> None:
    folder = changed_set(tmp_path)
    user.decide(folder, None, accept=True)
    golden = open_set(str(folder))
    assert list(golden.cases) == ["one", "two", "four"]
    assert golden.cases["two"].inputs.b == 0.25
    assert not list(folder.glob("*.new")) and not (folder / "three.json").exists()
    assert user.pending(folder) == {}


def test_reject_keeps_the_set_as_it_was_and_ends_the_review(tmp_path: Path) -> None:
    folder = changed_set(tmp_path)
    user.decide(folder, ["two"], accept=False)
    assert user.pending(folder) == {"four": ADDED, "three": user.UNREFERENCED}
    user.decide(folder, ["four", "three"], accept=False)
    assert user.pending(folder) == {} and not list(folder.glob("*.new"))
    golden = open_set(str(folder))
    assert list(golden.cases) == ["one", "two", "three"] and golden.cases["two"].inputs.b == 0.125


def test_accepting_one_case_leaves_the_others_pending(tmp_path: Path) -> None:
    folder = changed_set(tmp_path)
    user.decide(folder, ["four"], accept=True)
    assert user.pending(folder) == {"two": CHANGED, "three": user.UNREFERENCED}
    assert (
        list(open_set(str(folder)).cases) == ["four", "one", "two", "three"]
        or "four" in open_set(str(folder)).cases
    )
    with pytest.raises(GoldenError, match="nothing pending for four"):
        user.decide(folder, ["four"], accept=True)


def test_with_ci_set_an_existing_set_is_never_written(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    user.regenerate_set(folder, files(one=document("one")))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    done = user.regenerate_set(folder, files(one=document("one", b="0.5")), ci=True)
    assert done.pending and {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_released_set_refuses_a_change_without_force(tmp_path: Path) -> None:
    folder = tmp_path / "golden"
    user.regenerate_set(folder, files(one=document("one")))
    user.release(folder)
    with pytest.raises(ReleasedVersion, match="is released; regen would change it"):
        user.regenerate_set(folder, files(one=document("one", b="0.5")))
    assert user.regenerate_set(folder, files(one=document("one", b="0.5")), force=True).pending
    user.decide(folder, None, accept=True)
    assert json.loads((folder / MANIFEST).read_text())["released"] is True


def test_an_edited_pending_file_is_not_accepted(tmp_path: Path) -> None:
    folder = changed_set(tmp_path)
    pending = folder / "two.json.new"
    pending.write_text(pending.read_text().replace("0.25", "0.3", 1))
    with pytest.raises(GoldenError, match=r"two\.json\.new: sha256 differs from manifest\.json\.new"):
        user.decide(folder, ["two"], accept=True)
    assert open_set(str(folder)).cases["two"].inputs.b == 0.125


def neuron_oracle(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "golden", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_validate_judges_against_a_users_set_and_refuses_a_hand_edited_one(tmp_path: Path) -> None:
    user.regenerate_set(tmp_path / "golden", files(one=document("one"), two=document("two", X=[["-3", "1"]])))
    ok = neuron_oracle("validate", "neuron:Neuron", "--golden", "golden", "--no-properties", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("validating neuron:Neuron against golden golden in float64")
    assert ok.stdout.rstrip().endswith("OK: 2 passed, 0 failed, 0 errors, 0 skipped")
    path = tmp_path / "golden" / "two.json"
    path.write_text(path.read_text().replace('"b": 0.125', '"b": 0.25'))
    bad = neuron_oracle("validate", "neuron:Neuron", "--golden", "golden", "--no-properties", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("neuron-oracle: error: golden/two.json: sha256 differs from manifest.json")


def test_list_and_show_read_a_users_set(tmp_path: Path) -> None:
    user.regenerate_set(tmp_path / "golden", files(one=document("one")))
    listed = neuron_oracle("list", "--golden", "golden", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout == "one  one, a user's case\n", listed.stderr
    shown = neuron_oracle("show", "one", "--golden", "golden", cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("one  (golden golden, schema 2)"), shown.stderr
    missing = neuron_oracle("list", "--golden", "nowhere/", cwd=tmp_path)
    assert missing.returncode == 2 and "nowhere: no such folder: a golden set is" in missing.stderr


def test_several_sets_are_judged_in_one_run_each_case_named_by_its_set(tmp_path: Path) -> None:
    """A user case may share a bundled case's name: among several sets, each is SET/CASE in its group."""
    one_row = document("single_feature")  # the name of a bundled case of v1
    user.regenerate_set(tmp_path / "mine", files(single_feature=one_row, two=document("two")))
    run = neuron_oracle(
        "validate",
        "neuron:Neuron",
        "--golden",
        "v1",
        "--golden",
        "mine",
        "--no-properties",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["golden"] == "v1 + mine"
    groups = {o["name"]: o["group"] for o in report["outcomes"]}
    assert groups["mine/single_feature"] == "mine" and groups["v1/single_feature"] == "v1"
    assert [n for n, g in groups.items() if g == "mine"] == ["mine/single_feature", "mine/two"]
    assert len(groups) == len(open_set("v1").cases) + 2


def test_a_set_given_twice_is_refused_by_its_option(tmp_path: Path) -> None:
    run = neuron_oracle("validate", "--golden", "v3", "--golden", "v3", cwd=tmp_path)
    assert (
        run.returncode == 2
        and run.stderr == "neuron-oracle: error: --golden v3 is given twice; give each set once\n"
    )


def test_a_case_under_another_convention_is_refused_since_a_golden_file_holds_the_seeds() -> None:
    """A golden file's values are the seed's ½Σ(a − y)² and da/dz = 1 at 0; its inputs say so."""

    def mean() -> Result:
        X = [["1", "2"], ["3", "1"]]
        return create_backprop_test_case(X, ["1", "0"], ["0.5", "0.25"], "0", "0.1", loss="mean")

    with pytest.raises(ValueError, match=r"^derivative_at_zero='one', loss='mean': a golden file holds the"):
        build(Case("mean_one", "", "true", lambda r: True, mean), 2, ORACLE_VERSION)


def at_a_terminal(keys: bytes, *args: str) -> tuple[int, bytes]:
    """``neuron-oracle ARGS`` on a pseudo-terminal, typed `keys`: its exit status and all it showed."""
    import pty

    controller, terminal = pty.openpty()
    command = subprocess.Popen(
        [sys.executable, "-m", "golden", *args], stdin=terminal, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    os.write(controller, keys)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        shown += chunk
    return command.wait(timeout=60), shown


def test_review_asks_case_by_case_at_a_terminal_and_does_what_it_is_told(tmp_path: Path) -> None:
    """accept the first pending case, reject the second, skip the third: as cargo insta review."""
    folder = changed_set(tmp_path)  # pending, in order: two (changed), four (added), three (unreferenced)
    code, shown = at_a_terminal(b"a\nreject\ns\n", "review", str(folder))
    assert code == 0, shown.decode(errors="replace")
    assert b"[1/3] changed" in shown and b"inputs.b: 0.125 \xe2\x86\x92 0.25" in shown
    assert user.pending(folder) == {"three": user.UNREFERENCED}
    golden = open_set(str(folder))
    assert golden.cases["two"].inputs.b == 0.25 and "four" not in golden.cases


def test_review_ends_at_the_end_of_its_input_keeping_what_was_decided(tmp_path: Path) -> None:
    folder = changed_set(tmp_path)
    code, shown = at_a_terminal(b"a\n\x04", "review", str(folder))  # accept the first, then Ctrl-D
    assert code == 0 and b"Traceback" not in shown, shown.decode(errors="replace")
    assert user.pending(folder) == {"four": ADDED, "three": user.UNREFERENCED}


def test_review_without_a_terminal_says_to_accept_or_reject(tmp_path: Path) -> None:
    folder = changed_set(tmp_path)
    run = neuron_oracle("review", str(folder), cwd=tmp_path)
    assert run.returncode == 2 and "review asks at a terminal; without one, use" in run.stderr
    assert user.pending(folder) == {"two": CHANGED, "four": ADDED, "three": user.UNREFERENCED}


CASE_FILE = '''\
from oracle import case, create_backprop_test_case


@case("z > 0", lambda r: r.first.z[0] > 0)
def positive_z():
    """One row, z > 0."""
    return create_backprop_test_case([["1.5", "-2"]], ["0.75"], ["0.5", "-0.25"], "B", "0.1")
'''


def regen(tmp_path: Path, b: str, *extra: str, ci: bool = False) -> subprocess.CompletedProcess[str]:
    """``regen --case-file my_cases.py --golden grader/hidden`` of the case file with bias `b`, with CI
    set or cleared as asked (never inherited from the environment this test runs in)."""
    (tmp_path / "my_cases.py").write_text(CASE_FILE.replace('"B"', f'"{b}"'))
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": "true"} if ci else {})
    command = [
        sys.executable,
        "-m",
        "golden",
        "regen",
        "--case-file",
        "my_cases.py",
        "--golden",
        "grader/hidden",
    ]
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env
    )


def test_the_review_loop_from_the_command_line(tmp_path: Path) -> None:
    """A new set at once; a change pending (exit 1) until accepted; check names drift and hand edits."""
    folder = tmp_path / "grader" / "hidden"
    assert regen(tmp_path, "2").returncode == 0
    before = (folder / "positive_z.json").read_bytes()
    changed = regen(tmp_path, "3")
    assert changed.returncode == 1 and "pending review, nothing replaced" in changed.stderr
    assert "changed grader/hidden/positive_z.json: inputs.b: 2.0 → 3.0" in changed.stdout
    assert (folder / "positive_z.json").read_bytes() == before and (folder / "positive_z.json.new").is_file()
    check = ["check", "--case-file", "my_cases.py", "--golden", "grader/hidden"]
    drift = neuron_oracle(*check, cwd=tmp_path)
    assert drift.returncode == 1 and "positive_z.json: inputs.b: 2.0 → 3.0" in drift.stdout
    assert neuron_oracle("accept", "grader/hidden", cwd=tmp_path).returncode == 0
    assert neuron_oracle(*check, cwd=tmp_path).returncode == 0
    path = folder / "positive_z.json"
    path.write_text(path.read_text().replace('"claim": "z > 0"', '"claim": "z > 1"'))
    edited = neuron_oracle(*check, cwd=tmp_path)
    assert edited.returncode == 2 and edited.stdout == ""
    assert edited.stderr.startswith("neuron-oracle: error: grader/hidden/positive_z.json: sha256 differs")


def test_with_ci_set_regen_changes_no_existing_set_but_may_create_one(tmp_path: Path) -> None:
    assert regen(tmp_path, "2", ci=True).returncode == 0  # a new set
    folder = tmp_path / "grader" / "hidden"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    refused = regen(tmp_path, "3", ci=True)
    assert refused.returncode == 1 and "CI is set, so regen changed nothing" in refused.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_released_set_is_changed_only_with_force_and_then_through_review(tmp_path: Path) -> None:
    assert regen(tmp_path, "2").returncode == 0
    assert neuron_oracle("release", "grader/hidden", cwd=tmp_path).returncode == 0
    refused = regen(tmp_path, "3")
    assert refused.returncode == 1 and "grader/hidden is released; regen would change it" in refused.stderr
    assert not list((tmp_path / "grader" / "hidden").glob("*.new"))
    forced = regen(tmp_path, "3", "--force")
    assert forced.returncode == 1 and (tmp_path / "grader" / "hidden" / "positive_z.json.new").is_file()


def test_diff_compares_two_users_sets_and_a_bundled_version(tmp_path: Path) -> None:
    user.regenerate_set(tmp_path / "old", files(one=document("one")))
    user.regenerate_set(tmp_path / "new", files(one=document("one", b="0.25"), two=document("two")))
    run = neuron_oracle("diff", "old", "new", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("golden old → new\ncases added (1): two\ncases removed (0): none\n")
    assert "  inputs.b: 0.125 → 0.25 (in one)" in run.stdout
    against = neuron_oracle("diff", "v1", "new", cwd=tmp_path)
    assert against.returncode == 0 and "cases added (2): one, two" in against.stdout
