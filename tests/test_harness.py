"""The harness's own parts: the wire's parser, the reports' sanitising, the budget, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from helpers import REPO

from golden import _text, report
from golden.errors import OptionError
from golden.harness import _protocol as protocol
from golden.options import Options
from golden.outcome import Kind, Outcome, Status, Verdict


def frame(payload: bytes) -> bytes:
    return protocol.HEADER.pack(len(payload)) + payload


def receive(data: bytes, deadline: float = 2.0) -> object:
    """What the parent reads from a pipe holding `data` and then closed."""
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    try:
        return protocol.Reader(r).receive(time.monotonic() + deadline)
    finally:
        os.close(r)


# -- the wire ----------------------------------------------------------------------------------------


def test_a_pickle_on_the_wire_is_rejected_as_not_json() -> None:
    with pytest.raises(protocol.WireError, match="not JSON"):
        receive(frame(b"\x80\x04\x95cos\nsystem\n."))


def test_a_length_over_the_cap_is_refused_before_reading_the_body() -> None:
    with pytest.raises(
        protocol.WireError, match="sent a message of 400,000,000 bytes; the limit is 4,194,304"
    ):
        receive(protocol.HEADER.pack(400_000_000))


def test_a_partial_message_is_silence_at_the_deadline_not_a_hang() -> None:
    r, w = os.pipe()
    os.write(w, protocol.HEADER.pack(100) + b"{")
    start = time.monotonic()
    with pytest.raises(protocol.Silent, match="5 of 104 bytes came"):
        protocol.Reader(r).receive(start + 0.3)
    assert time.monotonic() - start < 2
    os.close(r)
    os.close(w)


def test_a_closed_pipe_is_an_ended_process() -> None:
    with pytest.raises(protocol.Closed):
        receive(b"")


def test_deeply_nested_json_is_a_wire_error() -> None:
    with pytest.raises(protocol.WireError, match="nested too deeply"):
        receive(frame(b"[" * 30_000 + b"]" * 30_000))  # fits in a pipe's buffer


def test_nan_and_infinity_arrive_as_values_to_be_reported() -> None:
    value = protocol.decode(
        receive(frame(b'{"t": "arr", "dtype": "float64", "shape": [2], "v": [NaN, -Infinity]}'))
    )
    assert value.array is not None
    nan, minus_infinity = value.array.tolist()
    assert nan != nan and minus_infinity == float("-inf")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"t": "num", "dtype": "complex128", "v": 1.0}, "dtype 'complex128'"),
        ({"t": "num", "dtype": "float64", "v": "1.0"}, "'1.0' where a number belongs"),
        ({"t": "num", "dtype": "float64", "v": True}, "True where a number belongs"),
        ({"t": "arr", "dtype": "float64", "shape": [3], "v": [1.0]}, "does not fill its shape"),
        ({"t": "arr", "dtype": "float64", "shape": [-1], "v": []}, "shape"),
        ({"t": "arr", "dtype": "float64", "shape": [True], "v": [1.0]}, "shape"),
        ({"t": "arr", "dtype": "float32", "shape": [2**63, 0], "f64": ""}, "shape"),
        ({"t": "arr", "dtype": "float64", "shape": [2**22] * 7 + [0], "v": []}, "shape"),
        ({"t": "arr", "dtype": ["float32"], "shape": [1], "v": [1.0]}, "dtype"),
        ({"t": "list", "v": [1.0, None]}, "None where a number belongs"),
        ({"t": "pickle", "v": "gASV"}, "tagged 'pickle'"),
        (["t", "num"], "not a tagged object"),
    ],
)
def test_every_malformed_value_node_is_refused_by_name(node: object, message: str) -> None:
    with pytest.raises(protocol.WireError, match=message):
        protocol.decode(node)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_a_long_float_array_travels_as_bytes_and_arrives_exactly(dtype: str) -> None:
    import ml_dtypes
    import numpy as np

    wanted = np.array([0.1, -0.0, 1e-8, 65504.0, 3.0, np.nan, -np.inf] * 5, dtype=np.float64)
    sent = wanted.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)
    node = json.loads(json.dumps(protocol.encode(sent.reshape(5, 7))))
    assert "f64" in node and "v" not in node
    value = protocol.decode(node)
    assert value.dtype == dtype and value.array is not None and value.array.shape == (5, 7)
    exact = sent.astype(np.float64).reshape(5, 7)
    assert np.array_equal(value.array, exact, equal_nan=True)
    assert np.array_equal(np.signbit(value.array), np.signbit(exact))  # -0.0 stays -0.0


@pytest.mark.parametrize(
    ("f64", "shape", "dtype", "message"),
    [
        ("AAAAAAAA8D8=", [2], "float64", "does not fill its shape"),  # one float's bytes for two
        ("AAAAAAAA8D8", [1], "float64", "not base64"),  # padding cut
        ("AAAA AAAA8D8=", [1], "float64", "not base64"),
        (["AAAAAAAA8D8="], [1], "float64", "does not fill its shape"),
        ("mpmZmZmZuT8=", [1], "float32", "float32 cannot hold"),  # 0.1 in float64: no float32
    ],
)
def test_an_array_s_bytes_that_do_not_fit_its_shape_or_dtype_are_refused(
    f64: object, shape: list[int], dtype: str, message: str
) -> None:
    with pytest.raises(protocol.WireError, match=message):
        protocol.decode({"t": "arr", "dtype": dtype, "shape": shape, "f64": f64})


def test_values_the_child_cannot_send_as_numbers_are_described_not_converted() -> None:
    import numpy as np

    for value, words in [
        (np.array([1 + 2j]), "ndarray of complex128"),
        (["1.0", "2.0"], "a list"),
        (np.array([True]), "ndarray of bool"),
        ("0.5", "a str '0.5'"),
    ]:
        decoded = protocol.decode(json.loads(json.dumps(protocol.encode(value))))
        if decoded.items is not None:  # a list of strings is a sequence of described strings
            decoded = decoded.items[0]
            words = "a str"
        assert decoded.array is None and words in decoded.description


def test_short_blanks_control_characters_escapes_lone_surrogates_and_cuts_long_text() -> None:
    assert _text.short("\x1b[31mred\x1b[0m\nOK: 25 passed\r\u2028") == " [31mred [0m OK: 25 passed  "
    assert _text.short("x" * 1000, 200) == "x" * 199 + "…"
    assert _text.short("\ud800 lone surrogate") == "\\ud800 lone surrogate"
    assert _text.short("caf\udce9.py") == "caf\\xe9.py"  # the byte 0xe9 of a name that is not UTF-8


# -- reports -------------------------------------------------------------------------------------------

HOSTILE = Outcome(
    "negative_gradients_increase_weights",
    Status.ERROR,
    Kind.CASE,
    "a",
    "forward raised RuntimeError: \x1b[31m\x00boom\nOK: 25 passed, 0 failed, 0 errors, 0 skipped",
)


def test_a_message_cannot_forge_a_line_of_the_text_report() -> None:
    lines = report.text(Verdict("x.py:N", "v1", [HOSTILE])).splitlines()
    assert [line for line in lines if line.startswith("OK")] == []
    assert lines[-1] == "FAILED: 0 passed, 0 failed, 1 errors, 0 skipped"


def test_junit_is_well_formed_whatever_the_messages_hold() -> None:
    suites = ET.fromstring(report.junit(Verdict("x.py:N", "v1", [HOSTILE])))
    error = suites.find("testsuite/testcase/error")
    assert error is not None and "boom" in (error.get("message") or "")


def test_a_run_where_everything_was_skipped_is_not_ok_and_says_so() -> None:
    skipped = [Outcome("sigmoid_batch", Status.SKIPPED, Kind.CASE, message="not declared")]
    assert not report.ok(skipped)
    assert report.text(Verdict("x.py:N", "v1", skipped)).splitlines()[-1].startswith("NOTHING CHECKED")


# -- the budget -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeout", "examples"),
    [(0, None), (-1, None), (float("nan"), None), (float("inf"), None), (86_401, None), (5, 0), (5, 100_001)],
)
def test_a_budget_out_of_range_is_refused(timeout: float, examples: int | None) -> None:
    with pytest.raises(OptionError):
        Options(timeout=timeout, examples=examples)


def test_the_largest_budget_is_accepted() -> None:
    options = Options(timeout=86_400, examples=100_000)
    assert (options.timeout, options.examples) == (86_400, 100_000)


# -- Ctrl-C -----------------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_ctrl_c_ends_validate_quietly_with_130_and_stops_the_implementation(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    impl = tmp_path / "slow.py"
    impl.write_text(
        "import os, time, sys\n"
        f"sys.path.insert(0, {str(REPO / 'tests')!r})\n"
        "from broken_neurons import Textbook\n"
        "class Slow(Textbook):\n"
        "    def forward(self, X):\n"
        f"        open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "        time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "golden", "validate", f"{impl}:Slow", "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert err.strip().endswith("none is half-written") and "no verdict" in err
    assert "Traceback" not in out + err
    child = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
