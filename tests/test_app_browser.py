"""`sevila app` in a real browser: headless Chromium submits a demo video and question to the running app on
localhost and reads the answer, the keyframes and the chart off the page; bad uploads get one clear sentence."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser import chromium
from profile_factory import make_demo_profile
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from video_factory import write_random_bytes

from sevila import Pipeline

QUESTION, OPTIONS = "what color is the vivid shape?", ["red.", "blue.", "green."]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, lively_backbone_dir):
    """`sevila app` on the demo profile (tiny backbone and heads) in a layout like `make demo` leaves."""
    root = make_demo_profile(tmp_path_factory.mktemp("app"), lively_backbone_dir)
    port = _free_port()
    log = open(root / "app.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "sevila.cli", "app", "--port", str(port)], cwd=root,
                              stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while True:
        assert server.poll() is None, (root / "app.log").read_text()[-3000:]
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200:
                break
        except OSError:
            assert time.monotonic() < deadline, "sevila app did not answer within 240 s"
            time.sleep(0.5)
    yield root, url
    server.terminate()
    server.wait(timeout=60)
    log.close()


@pytest.fixture(scope="module")
def browser(served, tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
    driver.get(served[1])
    yield driver
    driver.quit()


def _submit(browser, video: Path, question: str, options: list[str]) -> None:
    wait = WebDriverWait(browser, 120)
    upload = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#video input[type=file]"))
    upload.send_keys(str(video))
    for box, text in (("#question textarea", question), ("#options textarea", "\n".join(options))):
        field = browser.find_element(By.CSS_SELECTOR, box)
        field.clear()
        field.send_keys(text)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#video video"))  # the upload is shown
    before = browser.find_element(By.CSS_SELECTOR, "#status").text
    browser.find_element(By.CSS_SELECTOR, "#submit").click()
    # Each test's submissions are made to end in a status other than the one before them.
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#status").text not in ("", before))


def _clear_video(browser) -> None:
    for button in browser.find_elements(By.CSS_SELECTOR, "#video button[aria-label='Clear']"):
        button.click()
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#video input[type=file]"))


@pytest.mark.slow
def test_app_answers_a_demo_video_in_chromium(served, browser, tmp_path):
    root, _ = served
    video = root / "data" / "demo" / "videos" / "val0000.mp4"
    _submit(browser, video, QUESTION, OPTIONS)
    assert browser.find_element(By.CSS_SELECTOR, "#status").text == "Answered."
    expected = Pipeline.from_profile("demo", root / "data/demo/backbone",
                                     [root / p for p in ("checkpoints/demo/demo_qa/localizer_refined.safetensors",
                                                         "checkpoints/demo/demo_qa/answerer.safetensors")])(
        video, QUESTION, OPTIONS)
    answer = browser.find_element(By.CSS_SELECTOR, "#answer textarea").get_attribute("value")
    assert answer == f"{'ABC'[expected.answer]}. {expected.answer_text}"
    rows = [row.text.split() for row in browser.find_elements(By.CSS_SELECTOR, "#keyframe_table tbody tr")]
    assert rows == [[str(n), str(k.index), f"{k.time:.2f}", f"{k.score:.3f}"]
                    for n, k in enumerate(expected.keyframes, start=1)]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#keyframes img")) == 4
    probabilities = browser.find_element(By.CSS_SELECTOR, "#probabilities").text
    assert all(f"{letter}. {option}" in probabilities for letter, option in zip("ABC", OPTIONS))
    assert browser.find_elements(By.CSS_SELECTOR, "#chart img, #chart svg, #chart canvas")
    assert "demo videos" in browser.page_source  # the examples of data/demo/qa/val.json
    shot = tmp_path / "sevila_app.png"
    browser.save_screenshot(str(shot))
    print(f"screenshot of the answered page: {shot}")
    if os.environ.get("SEVILA_APP_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["SEVILA_APP_SCREENSHOT"])
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_app_says_what_is_wrong_with_a_bad_upload(served, browser, tmp_path):
    root, _ = served
    _clear_video(browser)
    fake = write_random_bytes(tmp_path / "holiday.mp4")
    _submit(browser, fake, QUESTION, OPTIONS)
    status = browser.find_element(By.CSS_SELECTOR, "#status").text
    assert status.startswith("Error: holiday.mp4 is not a video this app can read: ")
    assert str(tmp_path) not in status  # no server paths on the page
    assert browser.find_element(By.CSS_SELECTOR, "#answer textarea").get_attribute("value") == ""
    _clear_video(browser)
    _submit(browser, root / "data" / "demo" / "videos" / "val0001.mp4", QUESTION, [*OPTIONS, "a", "b", "c"])
    assert browser.find_element(By.CSS_SELECTOR, "#status").text == (
        "Error: 6 answer option(s) given; type 2 to 5 options, one per line")
