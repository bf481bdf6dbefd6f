"""The options object: built once per front end, checked once, every refusal naming the option as that
front end spells it."""

from __future__ import annotations

import dataclasses
import math

import pytest

from golden.cli import parser
from golden.errors import OptionError
from golden.options import DEFAULT_MEMORY, SIMILARITY, Front, GiB, Options


@pytest.mark.parametrize(
    ("front", "flag"),
    [(Front.CLI, "--timeout"), (Front.PYTEST, "--neuron-timeout"), (Front.PYTHON, "timeout")],
)
def test_a_refusal_names_the_option_as_its_front_end_spells_it(front: Front, flag: str) -> None:
    with pytest.raises(OptionError) as e:
        Options(timeout=0, front=front)
    assert str(e.value) == f"{flag} is 0; expected a number of seconds > 0 and at most 86400"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("timeout", math.inf, "--timeout is inf"),
        ("examples", 0, "--examples is 0; expected an integer from 1 to 100,000"),
        (
            "precision",
            "float8",
            "--precision is 'float8'; expected one of float64, float32, float16, bfloat16",
        ),
        ("conventions", {"los": "mean"}, "--convention: unknown convention 'los'"),
        ("conventions", {"loss": "avg"}, "--convention: loss is 'avg'; expected one of"),
        ("sandbox", "maybe", "--sandbox is 'maybe'; expected one of auto, on, off"),
        ("format", "xml", "--format is 'xml'"),
        ("jobs", 0, "--jobs is 0; expected at least 1"),
        ("max_memory", 1 << 20, "--max-memory is 1M; expected a size of at least 64M"),
        ("scheduler", "tcp://host:8786", "--scheduler is 'tcp://host:8786'; expected a TLS address"),
        ("cluster", "slurm", "--cluster is 'slurm'; expected one of local"),
        ("similarity", 0, "--similarity is 0; expected a threshold above 0 and at most 1"),
        ("similarity", 1.5, "--similarity is 1.5; expected a threshold above 0 and at most 1"),
    ],
)
def test_every_option_out_of_range_is_refused_when_the_options_are_built(
    field: str, value: object, says: str
) -> None:
    with pytest.raises(OptionError, match="^" + says.replace("(", r"\(").replace(")", r"\)")):
        Options(**{field: value}, front=Front.CLI)  # type: ignore[arg-type]


def test_a_batch_runs_on_a_scheduler_or_a_local_cluster_not_both() -> None:
    with pytest.raises(OptionError, match=r"^--scheduler and --cluster are given; give one of them$"):
        Options(scheduler="tls://host:8786", cluster="local", front=Front.CLI)


def test_similarity_without_a_threshold_takes_the_default_one() -> None:
    args = parser().parse_args(["validate", "x.py:N", "--similarity"])
    assert Options.from_args(args).similarity == SIMILARITY


def test_the_command_line_is_read_into_options_once() -> None:
    args = parser().parse_args(
        ["validate", "x.py:N", "--convention", "loss=mean", "--max-memory", "1G", "--cases", "batch_*"]
    )
    options = Options.from_args(args)
    assert options.conventions == {"loss": "mean"}
    assert options.max_memory == GiB
    assert (options.cases, options.properties, options.front) == ("batch_*", True, Front.CLI)


def test_a_convention_without_a_value_is_refused_by_its_flag() -> None:
    args = parser().parse_args(["validate", "--convention", "loss"])
    with pytest.raises(OptionError, match=r"^--convention 'loss': expected KEY=VALUE"):
        Options.from_args(args)


def test_the_python_api_takes_sizes_as_text_or_bytes_and_refuses_unknown_names() -> None:
    assert Options.from_kwargs(max_memory="4G").max_memory == 4 * GiB
    assert Options.from_kwargs(max_memory=None).max_memory == DEFAULT_MEMORY
    with pytest.raises(OptionError, match=r"^unknown option 'timeuot'"):
        Options.from_kwargs(timeuot=5)


def test_options_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Options().timeout = 1  # type: ignore[misc]


def test_the_pytest_plugin_s_options_are_read_by_their_neuron_names() -> None:
    given = {
        "neuron_golden": "v2",
        "neuron_cases": "batch_*",
        "neuron_timeout": 2.0,
        "neuron_examples": 7,
        "neuron_no_properties": True,
        "neuron_convention": ["loss=mean"],
        "neuron_sandbox": "off",
        "neuron_max_memory": "1G",
        "neuron_precision": "float32",
    }

    class Config:
        def getoption(self, name: str, default: object = None) -> object:
            return given.get(name, default)

    options = Options.from_pytest(Config())  # type: ignore[arg-type]
    assert (options.golden, options.cases, options.timeout, options.examples) == (("v2",), "batch_*", 2.0, 7)
    assert (options.properties, options.sandbox, options.precision) == (False, "off", "float32")
    assert (dict(options.conventions), options.max_memory, options.front) == (
        {"loss": "mean"},
        GiB,
        Front.PYTEST,
    )
    given["neuron_examples"] = 0
    with pytest.raises(OptionError, match=r"^--neuron-examples is 0"):
        Options.from_pytest(Config())  # type: ignore[arg-type]


def test_the_golden_sets_are_a_tuple_in_order_and_each_is_given_once() -> None:
    assert Options().sets == Options().golden == ("v3",)
    assert Options(golden="v1").sets == ("v1",)
    assert Options(golden=("v3", "grader/hidden")).sets == ("v3", "grader/hidden")
    with pytest.raises(OptionError, match=r"^golden v3 is given twice; give each set once$"):
        Options(golden=("v3", "v3"))
    with pytest.raises(OptionError, match=r"^--golden is \(\); expected a set's name, or several$"):
        Options(golden=(), front=Front.CLI)


def test_a_seed_is_an_integer_below_two_to_the_64() -> None:
    assert Options(seed=0).seed == 0 and Options(seed=2**64 - 1).seed == 2**64 - 1
    for bad in (-1, 2**64, True, 1.5, "7"):
        with pytest.raises(OptionError, match=r"^--seed is .*; expected an integer from 0 to 2\*\*64 - 1$"):
            Options(seed=bad, front=Front.CLI)  # type: ignore[arg-type]
