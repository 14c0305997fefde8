"""The console in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium) against Grove served by uvicorn on the test database.

An admin logs in, opens the console, sees the funnel change after a prompt is written through
the API (no reload: the websocket brings it), changes a parameter, sees the difference, saves
it, rolls it back (the version's row showing what that changes), finds both versions marked
on the charts, and halts and resumes the new tree from its tree view.

The browser is found on the PATH (or GROVE_TEST_CHROMIUM / GROVE_TEST_CHROMEDRIVER);
``scripts/test`` installs it when missing. Without it this test fails, saying so, unless
GROVE_TEST_SKIP_BROWSER=1 asks to skip it. GROVE_TEST_SCREENSHOTS=<dir> keeps a screenshot of
each page there (to look at the console without running it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from backend.accounts.services import create_api_client
from backend.console import deployment
from backend.console.services import take_snapshot
from backend.trees.growth_config import active_config, active_version, update_config
from backend.trees.models import JournalEntry
from tests.live import ROOT, serve_grove

# Committed rows (the server is another process); the rows the migrations seed (content types,
# the first configuration version) are restored afterwards, as every live test here does.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
WAIT_SECONDS = 20
PASSWORD = "console-test-password"
ADA = {"id": "ada", "display_name": "Ada", "auth_method": "local"}


def browser_paths() -> tuple[str, str]:
    if os.environ.get("GROVE_TEST_SKIP_BROWSER") == "1":
        pytest.skip("GROVE_TEST_SKIP_BROWSER=1: the browser test is skipped")
    chromium = shutil.which(os.environ.get("GROVE_TEST_CHROMIUM") or "chromium")
    driver = shutil.which(os.environ.get("GROVE_TEST_CHROMEDRIVER") or "chromedriver")
    if not (chromium and driver):
        pytest.fail(
            "the console's browser test needs Chromium and its driver: "
            "apt-get install chromium chromium-driver (scripts/test does it as root), or set "
            "GROVE_TEST_CHROMIUM and GROVE_TEST_CHROMEDRIVER; GROVE_TEST_SKIP_BROWSER=1 skips "
            f"this test (found chromium={chromium!r}, chromedriver={driver!r})",
            pytrace=False,
        )
    return chromium, driver


@pytest.fixture
def browser() -> Iterator:
    chromium, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def grove(tmp_path: Path) -> Iterator[str]:
    """Grove on a free port, its static files collected for it; the base URL."""
    static_root = str(tmp_path / "static")
    env = {**os.environ, "GROVE_STATIC_ROOT": static_root}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    client = deployment.redis_client()
    client.delete(*client.keys(f"{deployment.PREFIX}*") or ["none"])  # earlier tests' figures
    with serve_grove(
        GROVE_STATIC_ROOT=static_root,
        GROVE_CONSOLE_REFRESH_SECONDS="1",
        GROVE_CONSOLE_FLUSH_SECONDS="0.5",
    ) as port:
        yield f"http://127.0.0.1:{port}"


def api(base: str, key: str, path: str, body: dict) -> dict | None:
    request = urllib.request.Request(
        f"{base}/api/v1/{path}",
        data=json.dumps(body).encode(),
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        raw = response.read()
    return json.loads(raw) if raw else None


def write_a_prompt(base: str, key: str) -> None:
    """Ada's first task over the API (request, ack, answer): a new tree in initial review."""
    task = api(base, key, "tasks/", {"type": "initial_prompt", "lang": "en", "user": ADA})
    api(base, key, f"tasks/{task['id']}/ack", {"message_id": "ada-task-1"})
    api(
        base,
        key,
        "tasks/interaction",
        {
            "type": "text_reply_to_message",
            "message_id": "ada-task-1",
            "user_message_id": "ada-msg-1",
            "lang": "en",
            "text": "What makes a sourdough starter rise?",
            "user": ADA,
        },
    )


def wait_for(driver, condition, what: str):
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    # A click that posts a form replaces the page: an element found just before the new page
    # arrived is stale when read, and the next poll reads the new page.
    wait = WebDriverWait(
        driver,
        WAIT_SECONDS,
        poll_frequency=0.2,
        ignored_exceptions=(StaleElementReferenceException,),
    )
    try:
        return wait.until(condition)
    except TimeoutException:
        raise AssertionError(f"the console never showed {what}") from None


def click(driver, selector: str, what: str) -> None:
    """Click the element ``selector`` finds, on a part of the page that re-renders live (the
    overview's event list): an element found just before a re-render is stale when clicked,
    and the next try finds its successor."""
    from selenium.webdriver.common.by import By

    def clicked(d) -> bool:
        d.find_element(By.CSS_SELECTOR, selector).click()
        return True

    wait_for(driver, clicked, what)


def screenshot(driver, name: str) -> None:
    folder = os.environ.get("GROVE_TEST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def text_of(driver, selector: str) -> str:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0].text.strip() if found else ""


def test_console_in_a_browser_follows_the_api_and_tunes_and_rolls_back(browser, grove):
    from selenium.webdriver.common.by import By

    User.objects.create_superuser("admin", password=PASSWORD)
    key = create_api_client(name="browser-frontend", trusted=True).api_key
    funnel_cell = '#funnel tr[data-lang="en"] td[data-state="initial_prompt_review"]'

    # Log in through the admin's form; the console is where it sends us next.
    browser.get(f"{grove}/admin/login/?next=/console/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_for(browser, lambda d: text_of(d, "#ws-status") == "live", "a live socket")
    assert text_of(browser, funnel_cell) == ""  # no tree yet

    # A prompt written through the API shows up in the funnel without a reload.
    browser.execute_script("window.groveSamePage = true;")
    write_a_prompt(grove, key)
    wait_for(browser, lambda d: text_of(d, funnel_cell) == "1", "the new tree in the funnel")
    # Ada asked for her task over REST: an active volunteer of "en", on every web process.
    rest_cell = '#work tr[data-lang="en"] td[data-field="rest_active"]'
    wait_for(browser, lambda d: text_of(d, rest_cell) == "1", "Ada, active over REST")
    assert "(every web process)" in text_of(browser, "#latency")
    assert browser.execute_script("return window.groveSamePage") is True
    screenshot(browser, "overview")

    # Change a parameter: the preview shows the difference, saving makes a new version.
    base = active_version() or update_config(changes={}, author="browser-test")
    goal = active_config().goal_tree_size
    browser.find_element(By.LINK_TEXT, "Configuration").click()
    field = wait_for(browser, lambda d: d.find_element(By.ID, "id_goal_tree_size"), "the form")
    field.clear()
    field.send_keys(str(goal + 3))
    browser.find_element(By.ID, "preview").click()
    row = '#config-diff tr[data-name="goal_tree_size"]'
    wait_for(browser, lambda d: text_of(d, f"{row} .after") == str(goal + 3), "the diff")
    assert text_of(browser, f"{row} .before") == str(goal)
    screenshot(browser, "config-diff")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#config-diff tbody tr")) == 1
    browser.find_element(By.ID, "save").click()
    saved = base.version + 1
    wait_for(browser, lambda d: f"Version {saved} is active" in text_of(d, ".messages"), "saved")
    assert active_config().goal_tree_size == goal + 3

    # Roll back to the version before, from the same page: its row says what that changes.
    row = f'#history tr[data-version="{base.version}"]'
    browser.find_element(By.CSS_SELECTOR, f"{row} .rollback-diff summary").click()
    change = f'{row} .rollback-diff [data-name="goal_tree_size"]'
    assert text_of(browser, f"{change} .before") == str(goal + 3)
    assert text_of(browser, f"{change} .after") == str(goal)
    screenshot(browser, "config-rollback")
    browser.find_element(By.CSS_SELECTOR, f"{row} button.rollback").click()
    restored = saved + 1
    wait_for(
        browser,
        lambda d: (
            f"Version {restored} is active: the values of version {base.version}"
            in text_of(d, ".messages")
        ),
        "the rollback",
    )
    assert browser.find_element(By.ID, "id_goal_tree_size").get_attribute("value") == str(goal)
    assert active_config().goal_tree_size == goal
    changes = JournalEntry.objects.filter(event_type="config_updated", actor="console:admin")
    assert changes.count() == 2

    # The charts mark both versions.
    take_snapshot()
    browser.find_element(By.LINK_TEXT, "Overview").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".uplot")) == 4, "charts")
    markers = browser.find_elements(By.CSS_SELECTOR, "#config-markers li")
    versions = {marker.get_attribute("data-version") for marker in markers}
    assert {str(saved), str(restored)} <= versions
    screenshot(browser, "charts")
    click(browser, "#events a", "an event's link to its tree")
    wait_for(browser, lambda d: d.find_elements(By.ID, "tree"), "the tree view")
    assert browser.find_elements(By.CSS_SELECTOR, '#tree .node[data-review="pending"]')
    screenshot(browser, "tree")

    # Halt and resume in place: the same page comes back with the tree's new state.
    browser.find_element(By.ID, "halt").click()
    wait_for(browser, lambda d: text_of(d, "#tree-state") == "halted_by_moderator", "halted")
    assert text_of(browser, '#journal tr[data-event="tree_state_changed"]')
    browser.find_element(By.ID, "resume").click()
    wait_for(browser, lambda d: text_of(d, "#tree-state") == "initial_prompt_review", "resumed")
