"""A real headless Chromium from the system packages (Debian ``chromium`` and
``chromium-driver``), driven by Selenium. Nothing is downloaded at run time."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def find_browser() -> tuple[str, str] | None:
    binary = next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None)
    driver = next((p for p in DRIVER_CANDIDATES if Path(p).exists()), None)
    if binary is None or driver is None:
        return None
    return binary, driver


def start_chromium(*, width: int = 1400, height: int = 1000):
    """A Selenium driver on the system Chromium, with its own temporary profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_browser()
    if found is None:
        raise RuntimeError("chromium and chromium-driver are not installed")
    binary, driver = found
    profile = tempfile.mkdtemp(prefix="cashmatch-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-default-apps",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    env = dict(os.environ)
    env.pop("http_proxy", None)
    service = Service(executable_path=driver, env=env)
    try:
        browser = webdriver.Chrome(service=service, options=opts)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    browser._cashmatch_profile = profile  # removed by stop_chromium
    return browser


def stop_chromium(browser) -> None:
    profile = getattr(browser, "_cashmatch_profile", None)
    try:
        browser.quit()
    finally:
        if profile:
            shutil.rmtree(profile, ignore_errors=True)
