"""The stepper's page in a real browser: headless Chromium (Debian's chromium and chromium-driver, which
`make test` installs) driven by Selenium. Keys and buttons, the narration and the lit edge of every frame
against backward_steps, a click on a leaf, nodes that never move, no console error, no network at all,
readable at notebook width, the module anywidget loads; and the README's screenshot.

Without Chromium these tests skip on a workstation; in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from viz_examples import mlp_loss, neuron, parameters

from autograd import backward_steps, step_through
from autograd.viz import format_number, walk
from autograd.viz import stepper as stepper_module

ROOT = Path(__file__).resolve().parents[3]
IN_CI = os.environ.get("CI") == "true"
WIDTH = 1000  # CSS px: a notebook's output area is about 900


def _missing(why: str) -> None:
    if IN_CI:
        pytest.fail(f"{why}; CI must run the browser tests (make test installs what they need)")
    pytest.skip(f"{why} (make test installs it: sudo apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _missing("headless Chromium or chromedriver is not installed")
    if shutil.which("dot") is None:
        _missing("Graphviz's dot is not installed")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium  # type: ignore[assignment]
    profile = tempfile.mkdtemp(prefix="chainrule-chromium-")
    # NOTE: as root Chromium needs --no-sandbox; without the background-networking flags it keeps trying
    # to reach Google's servers, which a closed network refuses; a fresh profile for every run.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
                 f"--user-data-dir={profile}", f"--window-size={WIDTH},900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def neuron_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    o, params = neuron()
    stepper = step_through(o, params=params)
    return stepper.save(tmp_path_factory.mktemp("stepper") / "neuron.html"), stepper


def open_page(driver: Any, path: Path) -> Any:
    from selenium.webdriver.common.by import By

    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(path.as_uri())
    root = driver.find_element(By.CSS_SELECTOR, ".cr-stepper")
    root.click()  # focus: keys go to the stepper
    return root


STATE = """
const root = document.querySelector('.cr-stepper');
const all = (s) => Array.from(root.querySelectorAll(s));
const box = (el) => {
  const b = el.getBBox();
  return [b.x, b.y, b.width, b.height].map((v) => v.toFixed(2));
};
return {
  counter: root.querySelector('.cr-counter').textContent,
  narration: root.querySelector('.cr-narration').textContent,
  live: root.querySelector('.cr-narration').getAttribute('aria-live'),
  now: all('g.edge.now').map((g) => [g.id, g.querySelector('text.label').textContent,
                                      getComputedStyle(g.querySelector('path')).stroke]),
  current: all('g.node.current').map((g) => g.id),
  pending: all('g.node.pending').map((g) => g.id),
  grads: Object.fromEntries(all('g.node').map(
    (g) => [g.id, g.querySelector('text.grad')?.textContent ?? null])),
  // the node shapes and the edge lines (not their texts, which change): where everything is
  places: Object.fromEntries(all('g.node > path, g.node > polygon, g.edge > path').map(
    (el) => [el.parentNode.id + '/' + el.tagName, box(el)])),
  play: Array.from(root.querySelectorAll('button')).find((b) => b.textContent === 'Play' ||
                                                                 b.textContent === 'Pause').textContent,
};
"""


def state(driver: Any) -> dict[str, Any]:
    return driver.execute_script(STATE)


def errors(driver: Any) -> list[dict[str, Any]]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def expected_backward(root: Any) -> list[tuple[str, str, str, str, str]]:
    """From backward_steps alone: each contribution's edge id, its label, the parent's grad cell, and the
    words the narration must contain."""
    f = format_number
    position = {v: i for i, v in enumerate(walk(root))}
    remaining: dict[Any, int] = {}
    steps = backward_steps(root)
    for s in steps:
        for c in s.contributions:
            remaining[c.parent] = remaining.get(c.parent, 0) + 1
    running: dict[Any, float] = {}
    out = []
    for s in steps:
        for c in s.contributions:
            running[c.parent] = running.get(c.parent, 0.0) + c.amount
            remaining[c.parent] -= 1
            grad = f"grad {f(running[c.parent])}" if remaining[c.parent] == 0 else \
                f"grad so far {f(running[c.parent])}"
            out.append((f"e{position[s.node]}_{c.operand}", f"{f(c.local)} × {f(s.upstream)} = {f(c.amount)}",
                        f"n{position[c.parent]}", grad, f"Step {s.index}: "))
    return out


def test_keys_step_through_every_frame_with_the_numbers_of_backward_steps(browser, neuron_page):
    from selenium.webdriver.common.keys import Keys

    path, stepper = neuron_page
    root_el = open_page(browser, path)
    o = stepper.root
    first = state(browser)
    assert first["counter"] == f"forward 0 / {len(walk(o))}" and first["live"] == "polite"
    assert len(first["pending"]) == len(walk(o))  # nothing computed yet
    backward = iter(expected_backward(o))
    vermillion = "rgb(213, 94, 0)"
    for k, frame in enumerate(stepper.frames):
        if k:
            root_el.send_keys(Keys.ARROW_RIGHT)
        now = state(browser)
        assert (now["counter"], now["narration"]) == (frame.counter, frame.narration), k
        assert now["places"] == first["places"], f"frame {k}: something moved"
        if frame.phase == "forward":
            assert now["current"] == [frame.node] and frame.node not in now["pending"]
        if frame.phase == "backward" and frame.edge is not None:
            edge, label, parent, grad, words = next(backward)
            assert now["now"] == [[edge, label, vermillion]], k  # exactly one lit edge, this one
            assert now["grads"][parent] == grad
            assert words in now["narration"] and label in now["narration"]
    assert next(backward, None) is None  # every contribution had its frame
    # The last frame: every grad is the engine's.
    o.backward()
    for node in stepper.graph.nodes:
        if node.role != "constant":
            assert now["grads"][node.id] == f"grad {format_number(node.value.grad)}"
    # ← goes back, Home resets.
    root_el.send_keys(Keys.ARROW_LEFT)
    assert state(browser)["counter"] == stepper.frames[-2].counter
    root_el.send_keys(Keys.HOME)
    assert state(browser)["counter"] == stepper.frames[0].counter
    assert errors(browser) == []


def test_buttons_have_accessible_names_and_play_pauses(browser, neuron_page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    path, stepper = neuron_page
    root_el = open_page(browser, path)
    buttons = {b.accessible_name: b for b in browser.find_elements(By.CSS_SELECTOR, ".cr-stepper button")}
    assert set(buttons) == {"Reset", "Back", "Step", "Play"}
    assert browser.find_element(By.CSS_SELECTOR, ".cr-stepper input[type=range]").accessible_name.startswith(
        "Speed")
    buttons["Step"].click()
    buttons["Step"].click()
    assert state(browser)["counter"] == stepper.frames[2].counter
    buttons["Back"].click()
    assert state(browser)["counter"] == stepper.frames[1].counter
    buttons["Reset"].click()
    assert state(browser)["counter"] == stepper.frames[0].counter
    # Play runs to the end and pauses there by itself; space plays and pauses too.
    for _ in range(len(stepper.frames) - 3):
        root_el.send_keys(Keys.ARROW_RIGHT)
    buttons["Play"].click()
    assert state(browser)["play"] == "Pause"
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: state(d)["counter"] == stepper.frames[-1].counter)
    wait.until(lambda d: state(d)["play"] == "Play")
    root_el.send_keys(Keys.HOME)
    root_el.send_keys(Keys.SPACE)
    assert state(browser)["play"] == "Pause"
    wait.until(lambda d: state(d)["counter"] != stepper.frames[0].counter)
    root_el.send_keys(Keys.SPACE)
    assert state(browser)["play"] == "Play"
    assert errors(browser) == []


def test_clicking_a_leaf_lights_its_paths_and_says_its_grad(browser, neuron_page):
    from selenium.webdriver.common.by import By

    path, stepper = neuron_page
    open_page(browser, path)
    ids = {n.name: n.id for n in stepper.graph.nodes}
    browser.find_element(By.CSS_SELECTOR, f'g.node[id="{ids["x1"]}"]').click()
    words = state(browser)["narration"]
    # By hand: do/dx1 = w1 * (1 - o^2) = -3 * 0.5 = -1.5, along the one path x1 -> #2 -> #6 -> n -> o.
    assert words.startswith("grad of x1 = -1.5: the sum of its contributions")
    assert "x1 → #2 → #6 → n → o: -3 × 1 × 1 × 0.5 = -1.5" in words
    lit = browser.execute_script("return Array.from(document.querySelectorAll('g.node.onpath'), g => g.id)")
    assert sorted(lit) == sorted(ids[n] for n in ("x1", "#2", "#6", "n", "o"))
    browser.find_element(By.CSS_SELECTOR, f'g.node[id="{ids["x1"]}"]').click()  # again: back to the frame
    assert state(browser)["narration"] == stepper.frames[0].narration
    assert errors(browser) == []


def test_the_page_needs_no_network(browser, neuron_page):
    path, stepper = neuron_page
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions",
                            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
    try:
        browser.get_log("performance")  # drop earlier events
        root_el = open_page(browser, path)
        from selenium.webdriver.common.keys import Keys

        root_el.send_keys(Keys.ARROW_RIGHT)
        assert state(browser)["counter"] == stepper.frames[1].counter  # it works offline
        requested = [json.loads(e["message"])["message"] for e in browser.get_log("performance")]
        urls = [m["params"]["request"]["url"] for m in requested
                if m["method"] == "Network.requestWillBeSent"]
        assert urls and all(url == path.as_uri() for url in urls), urls  # the page itself, nothing else
    finally:
        browser.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                                     "downloadThroughput": -1,
                                                                     "uploadThroughput": -1})
    assert errors(browser) == []


def test_the_stepper_is_readable_at_notebook_width(browser, neuron_page):
    path, _ = neuron_page
    open_page(browser, path)
    sizes = browser.execute_script("""
        const svg = document.querySelector('.cr-stepper svg');
        const rect = svg.getBoundingClientRect();
        const scale = rect.width / svg.viewBox.baseVal.width;
        const fonts = Array.from(svg.querySelectorAll('text'),
                                 (t) => parseFloat(t.getAttribute('font-size')) * scale);
        const words = document.querySelectorAll('.cr-stepper button, .cr-stepper p, .cr-legend span');
        const html = Array.from(words, (e) => parseFloat(getComputedStyle(e).fontSize));
        return {width: rect.width, svgText: Math.min(...fonts), htmlText: Math.min(...html)};
    """)
    assert sizes["width"] <= WIDTH and sizes["svgText"] >= 10 and sizes["htmlText"] >= 10, sizes


def test_a_focused_stepper_on_a_network_in_the_browser(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    loss = mlp_loss([3, 4, 1], batch=1, fused=True)
    w = parameters(loss)["layers.0.neurons.2.w.1"]
    stepper = step_through(loss, focus=w)
    root_el = open_page(browser, stepper.save(tmp_path / "focus.html"))
    for _ in stepper.frames[1:]:
        root_el.send_keys(Keys.ARROW_RIGHT)
    now = state(browser)
    assert now["counter"] == stepper.frames[-1].counter
    (w_id,) = [n.id for n in stepper.graph.nodes if n.value is w]
    from autograd import gradients

    assert now["grads"][w_id] == f"grad {format_number(gradients(loss, [w])[0])}"
    assert errors(browser) == []


def test_the_module_has_the_shape_anywidget_loads(browser, neuron_page, tmp_path):
    """export default { render }, render({model, el}) returning its cleanup: imported as a module."""
    _, stepper = neuron_page
    source = json.dumps(stepper_module._JS.read_text()).replace("<", "\\u003c")
    data = json.dumps(stepper.data()).replace("<", "\\u003c")
    page = tmp_path / "module.html"
    page.write_text(f"""<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div id="app"></div>
<script type="module">
const source = {source};
const data = {data};
const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
const module = await import(url);
const model = {{ get: (key) => (key === "data" ? data : undefined), on() {{}}, off() {{}}, set() {{}},
                 save_changes() {{}} }};
window.cleanup = module.default.render({{ model, el: document.getElementById("app") }});
</script></body></html>""", encoding="utf-8")
    from selenium.webdriver.common.keys import Keys

    root_el = open_page(browser, page)
    root_el.send_keys(Keys.ARROW_RIGHT)
    assert state(browser)["counter"] == stepper.frames[1].counter
    assert browser.execute_script("return typeof window.cleanup") == "function"
    assert errors(browser) == []


def test_screenshot_for_the_readme(browser, neuron_page, tmp_path):
    """The README's picture of the stepper, taken here: CHAINRULE_UPDATE_DOCS=1 writes docs/stepper.png."""
    from selenium.webdriver.common.keys import Keys

    path, stepper = neuron_page
    root_el = open_page(browser, path)
    # Mid-way through the backward pass: a lit edge, grads so far, finished ones.
    target = next(k for k, fr in enumerate(stepper.frames) if fr.phase == "backward" and fr.edge == "e6_0")
    for _ in range(target):
        root_el.send_keys(Keys.ARROW_RIGHT)
    browser.execute_script("document.activeElement.blur()")  # no focus ring in the picture
    height, frame = browser.execute_script(
        "return [document.querySelector('.cr-stepper').getBoundingClientRect().bottom,"
        " window.outerHeight - window.innerHeight]")
    browser.set_window_size(WIDTH, int(height) + int(frame) + 12)  # the whole stepper in view
    try:
        shot = tmp_path / "stepper.png"
        assert browser.save_screenshot(str(shot))
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, tall = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width == WIDTH and tall > 500
        if os.environ.get("CHAINRULE_UPDATE_DOCS") == "1":
            shutil.copyfile(shot, ROOT / "docs" / "stepper.png")
    finally:
        browser.set_window_size(WIDTH, 900)
    assert errors(browser) == []
