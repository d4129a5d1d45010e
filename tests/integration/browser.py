"""A real headless Chromium for the browser tests: Debian's chromium and
chromedriver driven by Selenium (never Selenium Manager: no downloads), with
WebGL by SwiftShader. One session per test file through the `browser`
fixture; its API is small: open a page, run a script, wait for a page state,
click, upload, screenshot, and the files the page saves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# software WebGL: there is no GPU on a server or in CI
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--window-size=1024,768"]
READY_TIMEOUT_S = 600  # a hang guard, not a time limit: SwiftShader on a busy 2-core machine is slow
POLL_S = 0.2


class Browser:
    """A Selenium session: just the commands the tests use. Files the page
    saves land in `downloads`, unasked."""

    def __init__(self, downloads: Path) -> None:
        self.downloads = downloads
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in CHROMIUM_ARGS:
            options.add_argument(argument)
        options.add_experimental_option("prefs", {
            "download.default_directory": str(downloads), "download.prompt_for_download": False,
            "profile.default_content_setting_values.automatic_downloads": 1})
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        # scripts may return promises (fetch) and pages load slowly under SwiftShader;
        # chromedriver's own timeouts answer first, the client's (120 s by default) after
        self.driver.set_script_timeout(READY_TIMEOUT_S)
        self.driver.set_page_load_timeout(READY_TIMEOUT_S)
        self.driver.command_executor.client_config.timeout = READY_TIMEOUT_S + 30

    def open(self, url: str) -> None:
        self.driver.get(url)

    def run(self, script: str, *args: Any) -> Any:
        """The script's return value (a returned promise is awaited)."""
        return self.driver.execute_script(script, *args)

    def until(self, script: str, *args: Any) -> Any:
        """The script's first truthy value, polled until the page gets there."""
        return self._wait(lambda driver: driver.execute_script(script, *args),
                          lambda: f"the page never got to: {script}; it shows: "
                                  f"{self.run('return document.body.innerText.slice(0, 500)')}")

    def click(self, x: int, y: int) -> None:
        """A mouse click at viewport pixel (x, y)."""
        actions = ActionBuilder(self.driver)
        actions.pointer_action.move_to_location(x, y).click()
        actions.perform()

    def upload(self, selector: str, *paths: Path | str) -> None:
        """Choose files in a file input, as a user does (send keys)."""
        self.run("document.querySelector(arguments[0]).value = ''", selector)  # a multiple input adds to its files
        self.driver.find_element(By.CSS_SELECTOR, selector).send_keys("\n".join(map(str, paths)))

    def downloaded(self, suffix: str) -> Path:
        """The file the page saved (Chromium renames it when complete)."""
        return self._wait(lambda _: next((p for p in self.downloads.glob(f"*{suffix}") if p.stat().st_size), None),
                          lambda: f"no {suffix} file was saved in {self.downloads}")

    def _wait(self, condition: Callable[[webdriver.Chrome], Any], failure: Callable[[], str]) -> Any:
        """The condition's first truthy value (a hang guard, not a time limit)."""
        try:
            return WebDriverWait(self.driver, READY_TIMEOUT_S, POLL_S).until(condition)
        except TimeoutException:
            raise AssertionError(failure()) from None

    def screenshot(self) -> bytes:
        return self.driver.get_screenshot_as_png()

    def close(self) -> None:
        self.driver.quit()


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[Browser]:
    """One headless Chromium behind its own chromedriver for a test file."""
    session = Browser(tmp_path_factory.mktemp("downloads"))
    yield session
    session.close()
