"""The planner's page in a real headless browser: Debian's chromium driven by Selenium through
chromium-driver, against the real server. It signs in with a key, asks a question with the form and
reads the answer, which must be the API's answer to the same question. Skips, saying why, where there
is no chromium (``.ci/run`` installs it, so CI runs this)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.testing import LiveServer, admin_token

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')"
)

# a real server driven by a real browser
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        CHROMIUM is None or DRIVER is None,
        reason="no chromium and chromium-driver on PATH: apt-get install chromium chromium-driver"
        " (.ci/run does)",
    ),
]


@pytest.fixture(scope="module")
def server(
    sim_world: Path, systems_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("browser-home"), sim_world, systems_path).start()
    live.token = admin_token(live)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # headless as root in a container, and nothing fetched from outside: this machine has no network
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_a_planner_signs_in_and_gets_a_question_answered(server: LiveServer, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(f"{server.url}/planner")
    key = wait.until(ec.presence_of_element_located((By.NAME, "key")))
    key.send_keys(server.token)
    key.submit()
    wait.until(ec.presence_of_element_located((By.ID, "total-demand")))  # signed in: the overview

    browser.find_element(By.ID, "nav-question").click()
    wait.until(ec.presence_of_element_located((By.ID, "question-form")))
    Select(browser.find_element(By.ID, "q-target")).select_by_value("system:sys_a")
    for field, value in (("q-at-least", "2"), ("q-months", "18")):
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    browser.find_element(By.ID, "ask").click()
    shown = float(wait.until(ec.presence_of_element_located((By.ID, "probability"))).text)

    api = httpx.post(
        f"{server.url}/v1/questions",
        json={"system": "sys_a", "at_least": 2, "within_months": 18},
        headers={"authorization": f"Bearer {server.token}"},
        timeout=60,
    )
    assert api.status_code == 200, api.text
    assert shown == pytest.approx(api.json()["probability"], abs=5e-4)  # the page shows 3 decimals
    assert "system-share model" in browser.find_element(By.ID, "rests-on").text

    # the line view draws its fan in the browser too
    browser.get(f"{server.url}/planner/line?line=patriot_mse&plan_scale=0.5")
    fan = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#line-fan svg")))
    assert fan.size["width"] > 100 and "domestic plan x0.5" in browser.find_element(By.ID, "what-if").text
