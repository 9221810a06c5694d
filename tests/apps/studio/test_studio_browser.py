"""The studio in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium): a take
to hear and see, a sentence's coloured words, names and a look inside one; and nothing requested from any host but the studio.

`STUDIO_SCREENSHOTS=DIR` saves a picture of each tab as `DIR/studio-<tab>.png` (docs/images holds them).
"""

import io
import json
import os
import urllib.parse
import urllib.request
import wave

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

WAIT_S = 60


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def shown(browser, selector, timeout=WAIT_S):
    """The elements matching the CSS `selector` once there is one, and it is displayed."""
    WebDriverWait(browser, timeout).until(
        lambda driver: any(element.is_displayed() for element in driver.find_elements(By.CSS_SELECTOR, selector))
    )
    return browser.find_elements(By.CSS_SELECTOR, selector)


def screenshot(browser, tab, answer):
    """Saves the tab, scrolled to its `answer`, where `STUDIO_SCREENSHOTS` names a folder."""
    folder = os.environ.get("STUDIO_SCREENSHOTS")
    if folder:
        browser.execute_script("arguments[0].scrollIntoView({block: 'end'})", answer)
        browser.save_screenshot(os.path.join(folder, f"studio-{tab}.png"))


def open_tab(browser, name):
    next(tab for tab in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]") if tab.text == name).click()


def requested_hosts(browser):
    """The hosts of every request the page made, from Chromium's network log."""
    hosts = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = urllib.parse.urlsplit(message["params"]["request"]["url"])
            if url.scheme not in ("data", "blob"):
                hosts.add(url.netloc)
    return hosts


@pytest.mark.slow
def test_a_take_a_sentence_and_names_in_the_browser(studio, browser):
    browser.get(studio.url)
    bars = shown(browser, "#jazz-bars input")[0]
    bars.clear()
    bars.send_keys("4")
    browser.find_element(By.CSS_SELECTOR, "#jazz-generate").click()
    roll = shown(browser, "#jazz-roll-0 img")[0]
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", roll) > 100
    link = shown(browser, "#jazz-audio-0 a[download], #jazz-audio-0 audio")[0]
    source = link.get_attribute("href") or link.get_attribute("src")
    # Playable: the browser reads the WAV's length from it.
    seconds = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; const audio = new Audio(arguments[0]);"
        "audio.onloadedmetadata = () => done(audio.duration); audio.onerror = () => done(-1);",
        source,
    )
    with urllib.request.urlopen(source) as response, wave.open(io.BytesIO(response.read())) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        length = wav.getnframes() / wav.getframerate()
    tempo = float(shown(browser, "#jazz-take-0")[0].text.split(" bpm")[0].split()[-1])
    expected = 4 * 4 * 60 / tempo  # four bars of 4/4
    assert expected <= length < expected + 3 and seconds == pytest.approx(length, abs=0.05)
    assert np.abs(frames).max() > 1000  # not silence
    screenshot(browser, "jazz", roll)

    open_tab(browser, "Sentiment")
    shown(browser, "#sentiment-text textarea")[0].send_keys("A gorgeous, witty, seductive movie.")
    browser.find_element(By.CSS_SELECTOR, "#sentiment-predict").click()
    words = shown(browser, "#sentiment-answer .studio-word")
    assert [word.text for word in words] == ["a", "gorgeous", ",", "witty", ",", "seductive", "movie", "."]
    assert all("rgba(" in word.get_attribute("style") for word in words)
    assert "positive" in browser.find_element(By.CSS_SELECTOR, "#sentiment-answer").text
    screenshot(browser, "sentiment", words[0])

    open_tab(browser, "Dinos")
    shown(browser, "#dinos-sample")[0].click()
    WebDriverWait(browser, WAIT_S).until(lambda driver: "seed" in driver.find_element(By.ID, "dinos-message").text)
    cells = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "#dinos-names [role=gridcell]")]
    assert len(cells) == 2 * 10 and all(name.isalpha() for name in cells[::2])
    assert all(0 < float(bits) < 10 for bits in cells[1::2])
    screenshot(browser, "dinos", browser.find_element(By.ID, "dinos-names"))

    # Look inside: a sampled name clicked is the name looked at; its heat maps and a row a step.
    first = browser.find_element(By.CSS_SELECTOR, "#dinos-names [role=gridcell]")
    name = first.text
    first.click()
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#dinos-look-name textarea").get_attribute("value") == name
    )
    browser.find_element(By.ID, "dinos-look").click()
    heat_maps = shown(browser, "#dinos-heat-maps img")[0]
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", heat_maps) > 500
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, "#dinos-steps [role=row]")) == len(name) + 2
    )
    assert "Pearson" in browser.find_element(By.ID, "dinos-look-message").text
    screenshot(browser, "look-inside", heat_maps)

    assert requested_hosts(browser) == {urllib.parse.urlsplit(studio.url).netloc}
