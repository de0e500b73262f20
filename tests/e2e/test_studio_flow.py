"""One real session in the studio: an attacker rewrites a snippet with the substitution
menu and submits it, a labeler labels it, a rater rates a pair, and the admin's dashboard
counts all three; a user locked out by wrong passwords is unlocked from the dashboard.  The
rewrite page's screenshot is the one in the README."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from highstakes.store import work
from highstakes.store.db import make_engine, session_factory
from tests.studio.server import PASSWORD, running

SCREENSHOT = Path(__file__).parents[2] / "docs" / "studio-rewrite.png"


def _page(browser: Any, url: str, username: str) -> Any:
    page = browser.new_context(viewport={"width": 1100, "height": 900}).new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


# How long an attacker looks at a new snippet before the click timed "after the
# prefetch": the real menu (SmolLM2, the demo classifier) has its ten most salient
# words' menus ready in about 4 s on 2 cores (benchmarks/attack.py).
PREFETCH_PAUSE_MS = 5000


def _click_to_menu(page: Any, word: Any) -> float:
    """Milliseconds from the click on `word` to its menu shown, as the page measures it
    (performance.now() in the click handler and after the menu is drawn)."""
    n = page.evaluate("window.menuTimes.length")
    word.click()
    page.wait_for_function(f"window.menuTimes.length > {n}")
    expect(page.locator("#menu-items .choice").first).to_be_visible()
    return float(page.evaluate("window.menuTimes[window.menuTimes.length - 1]"))


def _most_salient(page: Any) -> Any:
    """The word the studio highlights most: the first whose menu it prefetches."""
    words = page.locator(".word")
    titles = words.evaluate_all("spans => spans.map(s => parseFloat(s.title.split(' ')[1]))")
    return words.nth(max(range(len(titles)), key=lambda i: titles[i]))


def _wrong_password(url: str, username: str) -> int:
    with httpx.Client(base_url=url) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        form = {"username": username, "password": "not the password", "csrf_token": token[1]}
        return client.post("/login", data=form).status_code


def test_attack_label_rate_dashboard(browser: Any, studio_model: Path, tmp_path: Path) -> None:
    """With HIGHSTAKES_SCREENSHOTS=1 the screenshot goes to docs/; HIGHSTAKES_E2E_MODEL and
    HIGHSTAKES_E2E_MENU_LM run the same flow on a trained classifier and the real menu
    (how the README's picture was taken: the demo's classifier, SmolLM2 proposals)."""
    url_db = f"sqlite:///{tmp_path / 'studio.db'}"
    model = Path(os.environ.get("HIGHSTAKES_E2E_MODEL", studio_model))
    menu_lm = os.environ.get("HIGHSTAKES_E2E_MENU_LM", "none")
    data = "demo" if "HIGHSTAKES_E2E_MODEL" in os.environ else ""
    with running(url_db, model, tmp_path, menu_lm, data) as server:
        engine = make_engine(url_db)
        with session_factory(engine)() as session:
            work.add_pair(
                session,
                "Mo fed the goats. The sun set. He went in.",
                "He slept well.",
                "He fell asleep by the fire.",
                0.05,
            )
            session.commit()
        engine.dispose()

        admin = _page(browser, server.url, "admin")
        expect(admin.locator("h1")).to_have_text("Dashboard")
        admin.fill("input[name=target_threshold]", "0.000001")
        admin.fill("input[name=labels_per_snippet]", "1")
        admin.click("form[data-api='/api/admin/settings'] button")
        expect(admin.locator("#target-threshold")).to_have_text("1e-06")

        # the attacker: the score is above a 1e-6 target, so Submit stays off even when
        # the snippet is confirmed injurious
        attacker = _page(browser, server.url, "attacker")
        attacker.goto(f"{server.url}/attack/rewrite")
        expect(attacker.locator("#score")).to_have_text(re.compile(r"\d\.\d{4}"))
        expect(attacker.locator(".word").first).to_be_visible()
        attacker.check("#still-injurious")
        expect(attacker.locator("#submit")).to_be_disabled()

        # the admin raises the target; the next score the attacker gets carries it
        admin.fill("input[name=target_threshold]", "0.99")
        admin.click("form[data-api='/api/admin/settings'] button")
        expect(admin.locator("#target-threshold")).to_have_text("0.99")

        before = attacker.input_value("#completion")
        # click to menu, as the attacker waits for it: an eager click on a word as soon as
        # the words show, then, once the studio has had a moment to prefetch, the most
        # salient completion word
        word = attacker.locator(".line.completion .word").nth(1)
        eager = _click_to_menu(attacker, word)
        attacker.wait_for_timeout(PREFETCH_PAUSE_MS)
        ready = _click_to_menu(attacker, _most_salient(attacker))
        print(f"\nclick to menu: {eager:.0f} ms at once, {ready:.0f} ms after the prefetch")
        assert eager < 4000 and ready < 2000  # loose: the benchmark measures the p95
        _click_to_menu(attacker, word)  # back to the completion word, for the rewrite
        choices = attacker.locator("#menu-items .choice")
        assert choices.count() >= 5
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shot = SCREENSHOT if os.environ.get("HIGHSTAKES_SCREENSHOTS") else tmp_path / "shot.png"
        attacker.screenshot(path=str(shot), full_page=True)
        # the lowest score on the menu (grammatical items come first, so not always the
        # first item): the rewrite must get under the target for Submit to turn on
        scores = attacker.locator("#menu-items .menu-score").all_inner_texts()
        lowest = choices.nth(min(range(len(scores)), key=lambda i: float(scores[i])))
        choice = lowest.inner_text()
        lowest.click()
        expect(attacker.locator("#completion")).not_to_have_value(before)
        assert choice in attacker.input_value("#completion")
        expect(attacker.locator("#undo")).to_be_enabled()
        expect(attacker.locator("#submit")).to_be_enabled()
        rewritten = attacker.input_value("#completion")
        attacker.click("#submit")
        expect(attacker.locator("#message")).to_contain_text("Submitted")

        labeler = _page(browser, server.url, "labeler")
        expect(labeler.locator("#label-completion")).to_have_text(rewritten)
        labeler.click("button[data-label=yes]")
        expect(labeler.locator("#label-empty")).to_be_visible()

        # five wrong passwords lock the rater out; the admin unlocks them on the dashboard
        assert [_wrong_password(server.url, "rater") for _ in range(6)] == [401] * 5 + [429]
        admin.reload()
        locked = admin.locator("#lockouts tr[data-username='rater']")
        expect(locked).to_have_count(1)
        locked.locator("button").click()
        expect(locked).to_have_count(0)

        rater = _page(browser, server.url, "rater")
        expect(rater.locator("#rate-a")).not_to_be_empty()
        rater.click("button[data-choice=a]")
        expect(rater.locator("#rate-empty")).to_be_visible()

        admin.reload()
        row = admin.locator("#counts tr[data-source='tool-assisted']")
        expect(row.locator(".agreed")).to_have_text("1")
        expect(admin.locator("#ratings .n")).to_have_text("1")
        cost = admin.locator("#cost-attacker tbody tr")
        expect(cost).to_have_count(1)
        expect(cost.locator("td").nth(0)).to_have_text("attacker")
        expect(cost.locator("td").nth(1)).to_have_text("2")
        expect(cost.locator("td").nth(2)).to_have_text("1")
        # minutes per success and its interval over the attacker's two tasks: one has no
        # success, so a resample may hold none and the upper end is unbounded
        interval = re.compile(r"^[\d.]+ \[[\d.]+, ([\d.]+|∞)\]$")
        expect(cost.locator("td").nth(4)).to_have_text(interval)
