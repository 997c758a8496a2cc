"""Headless Chromium (Debian's chromium and chromium-driver, no browser download) driven by selenium."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# This machine has no network: nothing in the background may try to reach it.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium(profile_dir: Path, width: int = 1400, height: int = 1600) -> webdriver.Chrome:
    """A fresh headless Chromium with its own user-data dir; `.ci/run` installs both Debian packages."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    assert not missing, f"missing {missing}: apt-get install chromium chromium-driver (as .ci/run does)"
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
