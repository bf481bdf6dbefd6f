"""The HTML pages of a ``Verdict`` and of a tdd walk (``Walked``), for Jupyter and VS Code's notebooks.

A page reads as a person wants it read: the verdict and its counts first, then what failed, each with
its diagnosis first, then what passed and what was skipped, collapsed (``<details>``). The colours are
the notebook's own: JupyterLab's ``--jp-*`` and VS Code's ``--vscode-*`` CSS variables, with light and
dark fallbacks (``prefers-color-scheme``) where neither is set; a status colour is mixed towards the text
colour, so that it keeps its contrast on a light background and on a dark one. Every rule is scoped to
the root's class, ``ROOT`` (a notebook page holds other outputs); nothing is loaded, nothing runs. Every
text from the implementation (its name, messages, values) is cut to fit and escaped.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from golden._text import short
from golden.files._case import GoldenCase
from golden.learn._constructor import EXPECTED, N_FEATURES
from golden.learn._curriculum import CURRICULUM, WALKED
from golden.learn._tdd import End, Walked, _missing
from golden.outcome import PARAMETERS, Outcome, Status, Verdict
from golden.report import groups, sets

ROOT = "neuron-oracle-report"
SHOWN = 8  # the elements of a value shown side by side, expected next to got; the rest are counted
COUNTED = {  # each status as the counts word it
    Status.PASSED: "passed",
    Status.FAILED: "failed",
    Status.ERROR: "errors",
    Status.SKIPPED: "skipped",
}
TONE = {"GREEN": "passed", "RED": "failed", "SKIP": "skipped", "·": "todo"}  # a tdd step's mark: its class

_THEME = """
  --no-fg: var(--vscode-editor-foreground, var(--jp-ui-font-color0, {fg}));
  --no-bg: var(--vscode-editor-background, var(--jp-layout-color0, {bg}));
  --no-line: var(--vscode-panel-border, var(--jp-border-color2, {line}));
  --no-red0: var(--vscode-testing-iconFailed, var(--jp-error-color1, {red}));
  --no-green0: var(--vscode-testing-iconPassed, var(--jp-success-color1, {green}));
  --no-orange0: var(--vscode-editorWarning-foreground, var(--jp-warn-color1, {orange}));"""
# Where the notebook sets none of them: the colours of a light page, and of a dark one.
LIGHT = dict(fg="#1f2328", bg="#ffffff", line="#d1d9e0", red="#d1242f", green="#1a7f37", orange="#bc4c00")
DARK = dict(fg="#e6edf3", bg="#0d1117", line="#3d444d", red="#f85149", green="#3fb950", orange="#db6d28")
R = f".{ROOT}"
CSS = f"""
{R} {{ {_THEME.format(**LIGHT)}
  --no-muted: color-mix(in srgb, var(--no-fg) 72%, var(--no-bg));
  --no-red: color-mix(in srgb, var(--no-red0) 62%, var(--no-fg));
  --no-green: color-mix(in srgb, var(--no-green0) 62%, var(--no-fg));
  --no-orange: color-mix(in srgb, var(--no-orange0) 62%, var(--no-fg));
  --no-mono: var(--vscode-editor-font-family, var(--jp-code-font-family, ui-monospace, Menlo, monospace));
  color: var(--no-fg); background: var(--no-bg); padding: .75em; line-height: 1.45; text-align: left;
  font-family: var(--vscode-font-family, var(--jp-ui-font-family, system-ui, sans-serif)); }}
@media (prefers-color-scheme: dark) {{ {R} {{ {_THEME.format(**DARK)} }} }}
{R} .no-passed {{ --no-tone: var(--no-green); }}
{R} .no-failed {{ --no-tone: var(--no-red); }}
{R} .no-error {{ --no-tone: var(--no-orange); }}
{R} .no-skipped, {R} .no-todo {{ --no-tone: var(--no-muted); }}
{R} code {{ font-family: var(--no-mono); font-size: .95em; color: inherit; background: none; padding: 0; }}
{R} .no-verdict {{ border-left: .4em solid var(--no-tone); padding: .5em .9em; margin-bottom: .9em;
  background: color-mix(in srgb, var(--no-tone) 10%, var(--no-bg)); }}
{R} .no-word {{ font-size: 1.4em; font-weight: 700; color: var(--no-tone); letter-spacing: .03em; }}
{R} .no-counts {{ display: flex; flex-wrap: wrap; gap: .3em 1.2em; margin: .2em 0; }}
{R} .no-n {{ font-weight: 700; font-variant-numeric: tabular-nums; }}
{R} .no-count.no-passed .no-n, {R} .no-count.no-failed .no-n, {R} .no-count.no-error .no-n {{
  color: var(--no-tone); }}
{R} .no-say {{ font-weight: 600; margin: .2em 0; overflow-wrap: anywhere; }}
{R} .no-about {{ color: var(--no-muted); font-size: .92em; overflow-wrap: anywhere; }}
{R} .no-heading {{ font-weight: 700; margin: .9em 0 .4em; }}
{R} .no-set-title {{ font-size: 1.1em; border-bottom: 1px solid var(--no-line); }}
{R} .no-outcome {{ border: 1px solid var(--no-line); border-left: .3em solid var(--no-tone);
  padding: .45em .8em; margin: 0 0 .6em; }}
{R} .no-title {{ display: flex; flex-wrap: wrap; align-items: baseline; gap: .2em .7em; }}
{R} .no-status, {R} .no-mark {{ font-weight: 700; color: var(--no-tone); font-size: .9em; }}
{R} .no-name {{ font-weight: 600; overflow-wrap: anywhere; }}
{R} .no-kind, {R} .no-stage {{ color: var(--no-muted); font-size: .9em; }}
{R} .no-diagnosis {{ font-weight: 600; margin: .4em 0; padding: .35em .6em; overflow-wrap: anywhere;
  background: color-mix(in srgb, var(--no-tone) 12%, var(--no-bg)); }}
{R} .no-label {{ font-weight: 700; color: var(--no-tone); margin-right: .5em; }}
{R} .no-message {{ margin: .3em 0; overflow-wrap: anywhere; }}
{R} table {{ border-collapse: collapse; margin: .3em 0; table-layout: auto; font-size: inherit;
  width: auto; border: none; }}
{R} tbody tr:nth-child(n) {{ background: transparent; }}
{R} th, {R} td {{ padding: .12em .9em .12em 0; text-align: left; vertical-align: top; border: none;
  color: inherit; max-width: none; }}
{R} th {{ font-weight: 600; color: var(--no-muted); }}
{R} .no-list td {{ border-bottom: 1px solid var(--no-line); }}
{R} .no-values td, {R} td.no-num, {R} th.no-num {{ text-align: right; font-family: var(--no-mono);
  font-variant-numeric: tabular-nums; white-space: nowrap; }}
{R} td.no-json {{ font-family: var(--no-mono); text-align: left; white-space: normal;
  overflow-wrap: anywhere; }}
{R} details {{ margin: .5em 0; }}
{R} summary {{ cursor: pointer; font-weight: 600; }}
"""


def verdict_page(verdict: Verdict) -> str:
    """The report of `verdict` as one HTML element: the verdict and counts, failures and errors (each
    with its stage, diagnosis, message, and the values expected and got), then passes and skips collapsed.

    Among several golden sets, each set's cases are a section of their own, headed ``golden cases (SET)``,
    and the properties one more, each laid out as the whole page is with one set.
    """
    outcomes = verdict.outcomes
    counts = Counter(o.status for o in outcomes)
    if verdict.ok:
        word, tone = "OK", Status.PASSED
    elif all(o.status is Status.SKIPPED for o in outcomes):
        word, tone = "NOTHING CHECKED", Status.SKIPPED
    else:
        word, tone = "FAILED", Status.FAILED
    tiles = "".join(
        f'<span class="no-count no-{s.value}"><span class="no-n">{counts[s]}</span> {COUNTED[s]}</span>'
        for s in Status
    )
    judged, isolation = verdict.judged, verdict.isolation
    about = [f"validating {verdict.impl} against golden {verdict.golden}"]
    if judged is not None:
        about = [f"{about[0]} in {judged.precision_text()}", f"conventions: {judged.conventions_text()}"]
    if isolation is not None:
        about.append(isolation.describe())
    head = _head(word, tone.value, f'<div class="no-counts">{tiles}</div>', about)
    if len(sets(verdict)) <= 1:
        return _page(head, _section(outcomes))
    sections = (
        f'<div class="no-set"><div class="no-heading no-set-title">{_e(title)}</div>{_section(mine)}</div>'
        for _, title, mine in groups(verdict)
    )
    return _page(head, *sections)


def _section(outcomes: list[Outcome]) -> str:
    """`outcomes` as the page lays them out: failures and errors, then passes and skips collapsed."""
    return "".join(
        (
            _failures([o for o in outcomes if o.status in (Status.FAILED, Status.ERROR)]),
            _collapsed(Status.PASSED, [o for o in outcomes if o.status is Status.PASSED]),
            _collapsed(Status.SKIPPED, [o for o in outcomes if o.status is Status.SKIPPED]),
        )
    )


def walk_page(walked: Walked) -> str:
    """The tdd screen of `walked` as one HTML element: its verdict (GREEN, RED or nothing checked), the
    red step (or the red cases and properties), the steps with their marks, and what to do next."""
    parts = [_walk_head(walked)]
    if walked.red is not None:
        parts.append(_red_step(*walked.red))
    parts.append(_failures([o for o in walked.outcomes if o.status in (Status.FAILED, Status.ERROR)]))
    if walked.end is not End.NOTHING_TO_WALK:
        parts.append(_steps(walked))
    if walked.end is End.PROPERTIES:
        parts.append(_collapsed(Status.PASSED, [o for o in walked.outcomes if o.status is Status.PASSED]))
    if not walked.green:
        again = f"Make it green, then run <code>{_e(walked.command)}</code> again."
        parts.append(f'<div class="no-heading">{again}</div>')
    return _page(*parts)


def _page(*parts: str) -> str:
    return f'<div class="{ROOT}"><style>{CSS}</style>{"".join(parts)}</div>'


def _head(word: str, tone: str, middle: str, about: Iterable[str]) -> str:
    """The verdict: its word in its tone, `middle` (markup: the counts), and the lines `about` it (text)."""
    lines = "".join(f'<div class="no-about">{_e(line, 400)}</div>' for line in about)
    return (
        f'<div class="no-verdict no-{tone}" role="status"><div class="no-word">{word}</div>'
        f"{middle}{lines}</div>"
    )


def _walk_head(walked: Walked) -> str:
    """The verdict of a walk: GREEN, RED or NOTHING CHECKED, and where and why it ended."""
    end, done = walked.end, len(walked.marks)
    green = sum(mark == "GREEN" for mark, _ in walked.marks)
    word, tone = "RED", "failed"
    if end is End.NOTHING_TO_WALK:
        held = ", ".join(map(repr, walked.activations)) or "nothing"
        say = (
            f"{walked.impl} declares no activation the walk runs: its supported_activations hold {held}, "
            f"not {WALKED!r}. Add {WALKED!r}, or leave the attribute out (Leaky ReLU is the default)."
        )
    elif walked.red is not None:
        number, o, _ = walked.red
        say = f"step {number} of {len(CURRICULUM)}, {CURRICULUM[number - 1].title}, on {o.name}"
        say += f"; the {green} step(s) before it are green" if green else ""
    elif end is End.ALL_SKIPPED:
        word, tone = "NOTHING CHECKED", "skipped"
        say = f"every golden case was skipped: {walked.outcomes[0].message if walked.outcomes else ''}"
    elif end is End.CASES_RED:
        say = f"{green} of {done} steps green, but {len(walked.outcomes)} more golden case(s) are red"
    elif walked.green:
        word, tone = "GREEN", "passed"
        say = f"{green} of {done} steps, every golden case and {len(walked.outcomes)} properties"
    else:
        say = "a property is red: a refactoring broke an invariant"
    return _head(word, tone, f'<div class="no-say">{_e(say, 600)}</div>', [f"tdd of {walked.impl}"])


def _failures(outcomes: list[Outcome]) -> str:
    """A card per failure or error, in the run's order: its title, diagnosis, message and values."""
    if not outcomes:
        return ""
    counts = Counter(o.status for o in outcomes)
    title = ", ".join(f"{counts[s]} {COUNTED[s]}" for s in (Status.FAILED, Status.ERROR) if counts[s])
    cards = "".join(
        _card(o, o.diagnosis["message"] if o.diagnosis else "", "likely", o.expected, o.got) for o in outcomes
    )
    return f'<div class="no-failures"><div class="no-heading">{title}</div>{cards}</div>'


def _card(o: Outcome, hint: str, label: str, expected: Any, got: Any, title: str = "", more: str = "") -> str:
    """One red item: a title (`title`, else its status, name, kind and stage), the `hint` under `label`,
    its message, the values `expected` and `got` side by side, then `more` (markup)."""
    if not title:
        stage = "" if o.stage is None or o.stage == o.name else _stage(o.stage)
        title = (
            f'<span class="no-status">{o.status.value.upper()}</span><code class="no-name">'
            f'{_e(o.name, 120)}</code><span class="no-kind">{o.kind.value}</span>{stage}'
        )
    box = f'<div class="no-diagnosis"><span class="no-label">{label}</span>{_e(hint, 600)}</div>'
    return (
        f'<div class="no-outcome no-{o.status.value}"><div class="no-title">{title}</div>'
        f'{box if hint else ""}<div class="no-message">{_e(o.message, 600)}</div>'
        f"{_values(expected, got)}{more}</div>"
    )


def _stage(stage: str) -> str:
    return f'<span class="no-stage">stage <code>{_e(stage)}</code></span>'


def _red_step(number: int, o: Outcome, case: GoldenCase | None) -> str:
    """The red step's card: the hint (the diagnosis, else the step's), why, the values expected and got
    at its stage, the formula, and the case (or the constructor call) with its inputs."""
    step = CURRICULUM[number - 1]
    stage = o.stage or step.stages[0]
    want: Any
    if case is None:  # step 1's own-constructor check
        about = f"tdd makes {o.name} and sets nothing: w, b and alpha must be what __init__ stored."
        on = o.name
        inputs: dict[str, Any] = {"n_features": N_FEATURES}
        want = Prose(EXPECTED)
    else:
        about, on, inputs = case.document["description"], f"case {o.name}", case.document["inputs"]
        want = o.expected if o.expected is not None else case.document["expected"].get(stage)
        if stage == PARAMETERS.name and want is None:
            want = {key: inputs[key] for key in ("w", "b", "alpha")}
    got = Prose("not implemented yet (NotImplementedError)") if o.not_implemented else o.got
    title = (
        f'<span class="no-status">RED</span><span class="no-name">Step {number}, {_e(step.title)}: '
        f"on {_e(on, 120)}</span>{_stage(stage)}"
    )
    rows = (f'<tr><th>{_e(k)}</th><td class="no-json">{_json(v)}</td></tr>' for k, v in inputs.items())
    more = (
        f'<div class="no-message"><span class="no-kind">formula</span> <code>{_e(step.formula)}</code></div>'
        f'<div class="no-about">{_e(about, 400)}</div>{_table("no-inputs", rows)}'
    )
    hint = o.diagnosis["message"] if o.diagnosis else step.hint
    return f'<div class="no-red-step">{_card(o, hint, "hint", want, got, title, more)}</div>'


def _steps(walked: Walked) -> str:
    """The curriculum's steps with their marks: those walked, the red one, then · for the rest (SKIP for
    a step whose optional method the class does not define)."""
    marks = list(walked.marks)
    if walked.red is not None:
        marks.append(("RED", CURRICULUM[walked.red[0] - 1].formula))
    rows = []
    for number, step in enumerate(CURRICULUM, 1):
        if number <= len(marks):
            mark, text = marks[number - 1]
        else:
            missing = _missing(step, walked.optional)
            mark, text = ("SKIP", missing) if missing else ("·", step.formula)
        rows.append(
            f'<tr class="no-step no-{TONE[mark]}"><td class="no-mark">{mark}</td>'
            f'<td class="no-num">{number}</td><td>{_e(step.title)}</td><td><code>{_e(text)}</code></td></tr>'
        )
    return f'<div class="no-heading">steps</div>{_table("no-steps", rows)}'


def _collapsed(status: Status, outcomes: list[Outcome]) -> str:
    """The items of `status` in a closed ``<details>``: a row each, with the largest error/bound ratio a
    passing item came to (where any was measured), or why it was skipped."""
    if not outcomes:
        return ""
    ratios = [max(o.ratios.values(), default=None) for o in outcomes]
    if status is not Status.PASSED:
        column, cells = "<th>why</th>", [f"<td>{_e(o.message, 400)}</td>" for o in outcomes]
    elif any(r is not None for r in ratios):
        column = '<th class="no-num">largest error / bound</th>'
        cells = [f'<td class="no-num">{"" if r is None else f"{r:.2g}"}</td>' for r in ratios]
    else:
        column, cells = "", [""] * len(outcomes)
    rows = (
        f'<tr><td><code>{_e(o.name, 120)}</code></td><td class="no-kind">{o.kind.value}</td>{cell}</tr>'
        for o, cell in zip(outcomes, cells, strict=True)
    )
    return (
        f'<details class="no-group no-{status.value}"><summary><span class="no-status">'
        f"{len(outcomes)} {COUNTED[status]}</span></summary>"
        f"{_table('no-list', rows, f'<th>name</th><th>kind</th>{column}')}</details>"
    )


class Prose(str):
    """A text that stands for a value (``not implemented yet``): shown as it is, not as a JSON string."""


def _values(expected: Any, got: Any) -> str:
    """Expected and got side by side, an element a row ([i] before each of a list), numbers right-aligned
    in tabular figures; a value that is no flat list (a matrix, a dict) as JSON in one row; nothing when
    both are None."""
    if expected is None and got is None:
        return ""
    left, right = _flat(expected), _flat(got)
    if left is None or right is None or not (left or right):
        labels, rows = (
            [""],
            ["".join(f'<td class="no-json">{_json(value)}</td>' for value in (expected, got))],
        )
    else:
        n = max(len(left), len(right))
        rows = [f"<td>{_item(left, i)}</td><td>{_item(right, i)}</td>" for i in range(min(n, SHOWN))]
        labels = [f"[{i}]" for i in range(len(rows))] if n > 1 or isinstance(expected, list) else [""]
        if n > SHOWN:
            labels, rows = [*labels, "…"], [*rows, f'<td colspan="2">{n - SHOWN} more of {n}</td>']
    index = "<th></th>" if labels[0] else ""
    body = (
        f"<tr>{f'<th>{label}</th>' if index else ''}{cells}</tr>"
        for label, cells in zip(labels, rows, strict=True)
    )
    return _table("no-values", body, f'{index}<th class="no-num">expected</th><th class="no-num">got</th>')


def _table(kind: str, rows: Iterable[str], head: str = "") -> str:
    """A table of class `kind`: a header row of the cells `head` (markup; none when empty), then `rows`
    (each a ``<tr>``)."""
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table class="{kind}">{thead}<tbody>{"".join(rows)}</tbody></table>'


def _flat(value: Any) -> list[Any] | None:
    """`value` as a list of scalars (a scalar as one, None as none), or None when it is nested."""
    if value is None:
        return []
    if isinstance(value, list):
        return None if any(isinstance(v, list | dict) for v in value) else value
    return None if isinstance(value, dict) else [value]


def _item(values: list[Any], i: int) -> str:
    return _json(values[i]) if i < len(values) else "—"


def _json(value: Any) -> str:
    """A value as a report shows it, escaped: JSON (a string quoted), Prose as it is, None as (nothing)."""
    if value is None:
        return "(nothing)"
    return _e(value if isinstance(value, Prose) else json.dumps(value, ensure_ascii=False), 400)


def _e(text: str, limit: int = 200) -> str:
    """`text` on one line, cut to `limit` characters and escaped for HTML (quotes included)."""
    return html.escape(short(str(text), limit))
