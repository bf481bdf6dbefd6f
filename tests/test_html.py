"""The HTML report and the tdd view, read in headless Chromium as a person would read them in a notebook.

The pages are made from real runs (``validate`` and ``tdd`` of a neuron that averages its bias gradient,
from ``broken_neurons``) and from outcomes written here (hostile text). Each is loaded in Debian's
Chromium, driven by Playwright (no browser download: ``executable_path``), in five themes: the browser's
light and dark schemes with no notebook around the page, and JupyterLab's and VS Code's own variables on
a wrapper, each against the opposite scheme of the browser. The assertions read the DOM: the order of
the verdict, failures and passes, what is collapsed, and the contrast of text against its background
(WCAG 2's ratio, from the computed styles). Without Chromium the browser tests are skipped.

The README's screenshot is made by this module too: ``.venv/bin/python tests/test_html.py docs/report.png``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from golden import tdd, validate
from golden._html import walk_page
from golden.api import TddReport, ValidationReport, html_table
from golden.learn._curriculum import CURRICULUM
from golden.learn._tdd import End, Walked
from golden.outcome import Kind, Outcome, Status, Verdict

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

sys.path.insert(0, str(Path(__file__).parent))  # run as a script, for the README's screenshot
from broken_neurons import HardcodedAlpha, MeanBiasGradient

CHROMIUM = (
    os.environ.get("NEURON_ORACLE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
NO_CHROMIUM = (
    "no Chromium found: install Debian's (apt-get install chromium; .ci/run does), "
    "or name one in NEURON_ORACLE_CHROMIUM"
)
# JupyterLab 4's dark and light themes (packages/theme-*-extension/style/variables.css), and VS Code's
# Dark Modern, as much of each as the report reads.
JUPYTERLAB_DARK = {
    "--jp-layout-color0": "#111",
    "--jp-ui-font-color0": "rgba(255, 255, 255, 1)",
    "--jp-ui-font-color2": "rgba(255, 255, 255, 0.54)",
    "--jp-border-color2": "#424242",
    "--jp-error-color1": "#f44336",
    "--jp-success-color1": "#4caf50",
    "--jp-warn-color1": "#ff9800",
}
JUPYTERLAB_LIGHT = {
    "--jp-layout-color0": "white",
    "--jp-ui-font-color0": "rgba(0, 0, 0, 1)",
    "--jp-ui-font-color2": "rgba(0, 0, 0, 0.54)",
    "--jp-border-color2": "#e0e0e0",
    "--jp-error-color1": "#d32f2f",
    "--jp-success-color1": "#388e3c",
    "--jp-warn-color1": "#f57c00",
}
VSCODE_DARK = {
    "--vscode-editor-foreground": "#cccccc",
    "--vscode-editor-background": "#1f1f1f",
    "--vscode-descriptionForeground": "#9d9d9d",
    "--vscode-panel-border": "#2b2b2b",
    "--vscode-testing-iconFailed": "#f14c4c",
    "--vscode-testing-iconPassed": "#73c991",
    "--vscode-editorWarning-foreground": "#cca700",
}
THEMES: dict[str, tuple[str, dict[str, str]]] = {  # the browser's scheme, and the notebook's variables
    "light": ("light", {}),
    "dark": ("dark", {}),
    "jupyterlab-dark": ("light", JUPYTERLAB_DARK),
    "jupyterlab-light": ("dark", JUPYTERLAB_LIGHT),
    "vscode-dark": ("light", VSCODE_DARK),
}
DARK_THEMES = {"dark", "jupyterlab-dark", "vscode-dark"}
# For each element, the colours of its text and of each background from it up to the page, as [r, g, b,
# a] (0-255, alpha 0-1: a canvas turns whatever syntax the computed style has, rgb() or color(srgb …),
# into a pixel), and whether it holds text of its own.
COLOURS_JS = """(elements) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = (c) => {
    ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = '#000'; ctx.fillStyle = c; ctx.fillRect(0, 0, 1, 1);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  };
  return elements.map((el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) layers.push(rgba(getComputedStyle(e).backgroundColor));
    const own = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.data.trim());
    return {text: rgba(getComputedStyle(el).color), layers: layers, own: own, words: el.innerText};
  });
}"""
# The element one of whose own text nodes is `text`, the first in the page's order.
HOLDER_JS = """([root, text]) => {
  const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) if (n.data.trim() === text) return n.parentElement;
  return null;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def report() -> ValidationReport:
    """A failing validate: the bias gradient averaged, found by its diagnosis on every batch case."""
    return validate(MeanBiasGradient, properties=False)


@pytest.fixture(scope="module")
def walked() -> TddReport:
    """A red tdd: steps 1 to 7 green, step 8 (the batch) red, with its diagnosis as the hint."""
    return tdd(MeanBiasGradient)


@pytest.fixture(scope="module")
def page(browser: Browser) -> Iterator[Page]:
    """One tab for the module: each test loads its pages into it."""
    tab = browser.new_page(viewport={"width": 900, "height": 700})
    yield tab
    tab.close()


@pytest.fixture
def load(page: Page) -> Callable[..., Page]:
    """Load a page holding `html` in `theme` (a new document and window, in the theme's colour scheme,
    the notebook's variables set on a wrapper)."""

    def opened(html: str, theme: str = "light") -> Page:
        scheme, variables = THEMES[theme]
        page.goto("about:blank")
        page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        style = "; ".join(f"{k}: {v}" for k, v in variables.items())
        page.set_content(f'<!doctype html><html><body><div style="{style}">{html}</div></body></html>')
        return page

    return opened


def root(page: Page) -> Any:
    return page.locator(".neuron-oracle-report")


def holder(page: Page, text: str) -> Any:
    """The first element one of whose own text nodes is `text` (a handle), failing when there is none."""
    handle = page.evaluate_handle(HOLDER_JS, [root(page).element_handle(), text]).as_element()
    assert handle is not None, f"{text!r} is not on the page"
    return handle


def luminance(rgb: list[float]) -> float:
    """WCAG 2's relative luminance of an sRGB colour (channels 0-255)."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def over(top: list[float], bottom: list[float]) -> list[float]:
    """`top` (with its alpha) composited over the opaque `bottom`."""
    return [top[3] * t + (1 - top[3]) * b for t, b in zip(top[:3], bottom[:3], strict=True)] + [1.0]


def shown(page: Page, elements: list[Any]) -> list[dict[str, Any]]:
    """For each element, its text colour and its background as the eye gets them (each background layer
    composited from the page's white canvas up, then the text over them), whether it holds text of its
    own, and its words."""
    found = []
    for colours in page.evaluate(COLOURS_JS, elements):
        background = [255.0, 255.0, 255.0, 1.0]
        for layer in reversed(colours["layers"]):
            background = over(layer, background)
        found.append({**colours, "text": over(colours["text"], background), "background": background})
    return found


def contrast(colours: dict[str, Any]) -> float:
    """WCAG 2's contrast ratio of a text colour against its background."""
    lighter, darker = sorted((luminance(colours["text"]), luminance(colours["background"])), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def top(element: Any) -> float:
    box = element.bounding_box()
    assert box is not None, "not laid out"
    return float(box["y"])


def failing(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status in (Status.FAILED, Status.ERROR)]


def of_status(outcomes: list[Outcome], status: Status) -> list[Outcome]:
    return [o for o in outcomes if o.status is status]


def test_the_run_has_failures_with_a_diagnosis_passes_and_skips(report: ValidationReport) -> None:
    """The pages below are read for all of these: a run that lacked one would prove less."""
    assert failing(report.outcomes) and all(o.diagnosis for o in failing(report.outcomes)[:1])
    assert of_status(report.outcomes, Status.PASSED) and of_status(report.outcomes, Status.SKIPPED)


def test_the_verdict_comes_before_the_first_failure(
    report: ValidationReport, load: Callable[..., Page]
) -> None:
    page = load(report._repr_html_())
    verdict = page.get_by_role("status")
    assert verdict.count() == 1
    assert "FAILED" in verdict.inner_text()
    first = holder(page, failing(report.outcomes)[0].name)
    assert verdict.element_handle().evaluate("(v, f) => !!(v.compareDocumentPosition(f) & 4)", first)
    assert top(verdict.element_handle()) < top(first)


def test_failures_come_before_passes(report: ValidationReport, load: Callable[..., Page]) -> None:
    page = load(report._repr_html_())
    page.locator("details").evaluate_all("all => all.forEach(d => d.open = true)")  # to lay every pass out
    failures = [top(holder(page, o.name)) for o in failing(report.outcomes)]
    passes = [top(holder(page, o.name)) for o in of_status(report.outcomes, Status.PASSED)]
    assert max(failures) < min(passes)


def test_passes_and_skips_are_collapsed_and_failures_are_not(
    report: ValidationReport, load: Callable[..., Page]
) -> None:
    page = load(report._repr_html_())
    for o in of_status(report.outcomes, Status.PASSED) + of_status(report.outcomes, Status.SKIPPED):
        assert not holder(page, o.name).is_visible(), o.name
    for o in failing(report.outcomes):
        assert holder(page, o.name).is_visible(), o.name
    assert page.locator("details").count() == 2
    assert page.locator("details[open]").count() == 0


def test_each_failure_shows_its_stage_and_message_under_its_diagnosis(
    report: ValidationReport, load: Callable[..., Page]
) -> None:
    page = load(report._repr_html_())
    for o in failing(report.outcomes):
        assert o.stage is not None and o.diagnosis is not None
        card = holder(page, o.name).evaluate_handle("e => e.closest('.no-outcome')").as_element()
        text = card.inner_text()
        assert o.stage in text and o.message in text and o.diagnosis["message"] in text
        assert text.index(o.diagnosis["message"]) < text.index(o.message)


def test_no_column_of_a_table_is_mostly_empty(report: ValidationReport, load: Callable[..., Page]) -> None:
    """The old table's stage column was empty on every row that passed, and as wide as the rest."""
    page = load(report._repr_html_())
    columns = page.evaluate(
        """(root) => [...root.querySelectorAll('table')].map(t => {
             const rows = [...t.querySelectorAll('tbody tr')]
               .map(r => [...r.cells].map(c => c.textContent.trim()));
             const width = Math.max(...rows.map(r => r.length));
             return [...Array(width).keys()].map(i => rows.filter(r => r[i]).length / rows.length);
           })""",
        root(page).element_handle(),
    )
    assert columns and all(share >= 0.5 for table in columns for share in table), str(columns)


def test_numbers_are_right_aligned_in_tabular_figures(
    report: ValidationReport, load: Callable[..., Page]
) -> None:
    page = load(report._repr_html_())
    first = failing(report.outcomes)[0]
    for value in (first.expected, first.got):
        cell = holder(page, json.dumps(value))
        style = cell.evaluate("e => [getComputedStyle(e).textAlign, getComputedStyle(e).fontVariantNumeric]")
        assert style == ["right", "tabular-nums"], (value, style)


SCREENSHOTS = ("light", "dark")  # the themes whose pages are saved in the test's tmp_path, to look at


@pytest.mark.parametrize("theme", THEMES)
def test_the_validation_page_is_readable_in_every_theme(
    theme: str, report: ValidationReport, load: Callable[..., Page], tmp_path: Path
) -> None:
    """Every text of the verdict, and the first failure's message and diagnosis, have a contrast of at
    least 4.5 (WCAG's AA for text) on the background they are shown on; a dark theme is dark."""
    page = load(report._repr_html_(), theme)
    if theme in SCREENSHOTS:
        page.screenshot(path=str(tmp_path / f"validate-{theme}.png"))
    (whole,) = shown(page, [root(page).element_handle()])
    assert (luminance(whole["background"]) < 0.1) is (theme in DARK_THEMES)
    first = failing(report.outcomes)[0]
    assert first.diagnosis is not None
    texts = page.get_by_role("status").locator("*").element_handles()
    texts += [holder(page, first.message), holder(page, first.diagnosis["message"])]
    read = [colours for colours in shown(page, texts) if colours["own"]]
    assert len(read) >= 2 + 1 + 4  # the two messages, the verdict's word and its four counts at least
    for colours in read:
        assert contrast(colours) >= 4.5, (theme, colours["words"], contrast(colours))


@pytest.mark.parametrize("theme", THEMES)
def test_the_tdd_view_is_readable_and_red_and_green_differ_in_every_theme(
    theme: str, walked: TddReport, load: Callable[..., Page], tmp_path: Path
) -> None:
    """The verdict (RED) comes before the red step's hint; both read at a contrast of 4.5 at least, and
    so do the steps' GREEN and RED marks, which are green and red."""
    assert walked.walked.red is not None
    _, red, _ = walked.walked.red
    assert red.diagnosis is not None
    page = load(walked._repr_html_(), theme)
    if theme in SCREENSHOTS:
        page.screenshot(path=str(tmp_path / f"tdd-{theme}.png"))
    verdict = page.get_by_role("status")
    word = verdict.get_by_text("RED", exact=True).element_handle()
    hint, why = holder(page, red.diagnosis["message"]), holder(page, red.message)
    assert top(word) < top(hint)
    steps = page.locator("table").filter(has_text="GREEN")
    green, red_mark = (
        steps.get_by_text(mark, exact=True).first.element_handle() for mark in ("GREEN", "RED")
    )
    for colours in shown(page, [word, hint, why, green, red_mark]):
        assert contrast(colours) >= 4.5, (theme, colours["words"], contrast(colours))
    (gr, gg, _, _), (rr, rg, _, _) = (colours["text"] for colours in shown(page, [green, red_mark]))
    assert gg > gr + 40 and rr > rg + 40, (theme, "GREEN", (gr, gg), "RED", (rr, rg))


HOSTILE_NAME = '<img src=x onerror="window.pwned = 1">'
HOSTILE_MESSAGE = "<script>window.pwned = 2</script> & <b>bold</b>"
HOSTILE_HINT = "</div></table><iframe src=javascript:window.pwned=3>"


def hostile() -> Outcome:
    return Outcome(
        HOSTILE_NAME,
        Status.ERROR,
        Kind.CASE,
        stage="a",
        message=HOSTILE_MESSAGE,
        expected=["<i>"],
        got="</td>",
        diagnosis={"id": "x", "message": HOSTILE_HINT},
    )


def hostile_pages() -> dict[str, str]:
    verdict = Verdict(f"{HOSTILE_NAME}:Neuron", "v3", [hostile(), Outcome("<svg onload=x>", Status.PASSED)])
    red = Walked("tdd(<script>)", End.RED, HOSTILE_NAME, red=(1, hostile(), None))
    cases = Walked("tdd(x)", End.CASES_RED, HOSTILE_NAME, outcomes=(hostile(),))
    return {"validate": html_table(verdict), "tdd red": walk_page(red), "tdd cases red": walk_page(cases)}


@pytest.mark.parametrize("which", ["validate", "tdd red", "tdd cases red"])
def test_the_implementations_text_is_shown_as_text_and_never_runs(
    which: str, load: Callable[..., Page]
) -> None:
    page = load(hostile_pages()[which])
    assert page.evaluate("() => window.pwned") is None
    assert root(page).locator("script, img, iframe, svg, b, i").count() == 0
    text = root(page).inner_text()
    assert HOSTILE_MESSAGE in text and HOSTILE_HINT in text and HOSTILE_NAME in text


TABLES = {"table", "thead", "tbody", "tr", "th", "td"}


class Markup(HTMLParser):
    """The tags and attributes of a page, and the text of its style elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.styles: list[str] = []
        self.in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes |= {name for name, _ in attrs}
        self.in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self.styles.append(data)


def test_the_page_loads_nothing_and_holds_no_script(report: ValidationReport, walked: TddReport) -> None:
    """No script, frame, image, link or URL, no event handler: the page stands alone (a notebook that
    does not trust it shows it the same), whatever the implementation's text holds."""
    for html in [*hostile_pages().values(), report._repr_html_(), walked._repr_html_()]:
        markup = Markup()
        markup.feed(html)
        assert markup.tags <= {"div", "span", "code", "style", "details", "summary"} | TABLES, markup.tags
        assert markup.attributes <= {"class", "role", "colspan"}, markup.attributes
        assert markup.styles and not any("url(" in css or "@import" in css for css in markup.styles)


def test_every_style_rule_is_scoped_to_the_reports_root(
    report: ValidationReport, load: Callable[..., Page]
) -> None:
    page = load(report._repr_html_())
    selectors = page.evaluate(
        """() => { const out = [];
             const walk = rules => {
               for (const r of rules) {
                 if (r.selectorText === undefined) walk(r.cssRules); else out.push(r.selectorText);
               }
             };
             for (const s of document.styleSheets) walk(s.cssRules);
             return out; }"""
    )
    assert selectors
    for selector in selectors:
        for part in selector.split(","):
            assert part.strip().startswith(".neuron-oracle-report"), selector


ALL_GREEN = (("GREEN", "a formula"),) * len(CURRICULUM)
WALKS = {  # every end of a walk, and the verdict its page says first
    "nothing to walk": (Walked("tdd(X)", End.NOTHING_TO_WALK, "X", ("relu",)), "RED"),
    "the constructor red": (
        Walked("tdd(X)", End.RED, "X", red=(1, Outcome("X(3)", Status.FAILED, stage="parameters"), None)),
        "RED",
    ),
    "all skipped": (
        Walked(
            "tdd(X)", End.ALL_SKIPPED, "X", outcomes=(Outcome("case_one", Status.SKIPPED, message="why"),)
        ),
        "NOTHING CHECKED",
    ),
    "cases red": (
        Walked("tdd(X)", End.CASES_RED, "X", marks=ALL_GREEN, outcomes=(Outcome("case_one", Status.FAILED),)),
        "RED",
    ),
    "a property red": (
        Walked(
            "tdd(X)", End.PROPERTIES, "X", marks=ALL_GREEN, outcomes=(Outcome("property_one", Status.FAILED),)
        ),
        "RED",
    ),
    "all green": (
        Walked(
            "tdd(X)", End.PROPERTIES, "X", marks=ALL_GREEN, outcomes=(Outcome("property_one", Status.PASSED),)
        ),
        "GREEN",
    ),
}


@pytest.mark.parametrize("end", WALKS)
def test_every_end_of_a_walk_says_its_verdict_first_and_what_to_do_next_unless_green(end: str) -> None:
    walk, word = WALKS[end]
    body = walk_page(walk).split("</style>")[1]
    assert re.findall(r'<div class="no-word">([^<]*)</div>', body)[:1] == [word]
    texts = [o.message if o.status is Status.SKIPPED else o.name for o in walk.outcomes]  # a skip says why
    assert all(body.index(f">{word}<") < body.index(text) for text in texts)
    assert ("Make it green" in body) is (word != "GREEN")


def screenshot(path: Path) -> None:
    """The README's picture: the report of a neuron with a hard-coded alpha, in the browser's light
    scheme (left) and under JupyterLab's dark theme (right), its colours cut to a palette (with Pillow,
    where it is installed: matplotlib brings it) to keep the file small."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, NO_CHROMIUM
    page_html = validate(HardcodedAlpha, properties=False)._repr_html_()
    dark = "; ".join(f"{k}: {v}" for k, v in JUPYTERLAB_DARK.items())
    halves = f'<div style="flex: 1">{page_html}</div><div style="flex: 1; {dark}">{page_html}</div>'
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM)
        page = chromium.new_page(viewport={"width": 1120, "height": 300})
        page.set_content(f'<!doctype html><body style="margin: 0"><div style="display: flex">{halves}</div>')
        page.screenshot(path=str(path), full_page=True)
        chromium.close()
    try:
        from PIL import Image
    except ImportError:
        return
    Image.open(path).quantize(colors=48).save(path, optimize=True)


if __name__ == "__main__":
    screenshot(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/report.png"))
