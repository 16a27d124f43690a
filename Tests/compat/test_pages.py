"""The live-event pages in a real browser (Debian's chromium and chromedriver, driven by selenium)
against the real tallyd and Redis: the stage screen, the voting page and the organizer console.
Screenshots at phone and projector sizes go to .build/screenshots (the README shows copies)."""
import datetime
import gzip
import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ORGANIZER, ROOT, free_port, mint, start_redis, start_tallyd, stop_tallyd

SHOTS = os.path.join(ROOT, ".build", "screenshots")
PHONE, PROJECTOR = (390, 844), (1920, 1080)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--hide-scrollbars"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    os.makedirs(SHOTS, exist_ok=True)
    yield driver
    driver.quit()


def api(daemon, method, path, body=None, token=ORGANIZER):
    request = urllib.request.Request(f"{daemon.url}{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def create(daemon, **fields):
    status, poll = api(daemon, "POST", "/v1/polls", {"question": "Best act tonight?", "options": ["Aurora", "Basalt", "Cirrus"], **fields})
    assert status == 201, poll
    return poll["id"]


def ending_in(seconds):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def vote(daemon, poll, voter, choices):
    return api(daemon, "POST", f"/v1/polls/{poll}/votes", {"choices": choices}, token=mint(voter))


def ready(daemon, seconds=5):
    """Waits until the daemon takes votes (/readyz: its loops have checked Redis)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{daemon.url}/readyz"):
                return
        except urllib.error.HTTPError:
            assert time.monotonic() < deadline, "tallyd not ready"
            time.sleep(0.05)


def wait(browser, condition, seconds=5):
    # The pages redraw their lists: an element read a moment ago may be gone.
    return WebDriverWait(browser, seconds, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda _: condition())


def text(browser, element_id):
    return browser.find_element(By.ID, element_id).text


def values(browser, list_id):
    return [row.find_element(By.CLASS_NAME, "value").text for row in browser.find_elements(By.CSS_SELECTOR, f"#{list_id} li")]


def shoot(browser, name, size):
    browser.set_window_size(*size)
    browser.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    browser.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def test_the_stage_screen_follows_votes_the_countdown_and_the_close(tallyd_module, browser):
    daemon = tallyd_module
    poll = create(daemon, closesAt=ending_in(6))
    browser.set_window_size(*PROJECTOR)
    browser.get(f"{daemon.url}/live/{poll}")
    wait(browser, lambda: text(browser, "question") == "Best act tonight?")
    assert [row.find_element(By.CLASS_NAME, "title").text for row in browser.find_elements(By.CSS_SELECTOR, "#options li")] == ["Aurora", "Basalt", "Cirrus"]
    assert text(browser, "join-url") == f"127.0.0.1:{daemon.port}/vote/{poll}"

    # Votes cast through the API show within a second.
    for voter, choice in (("ann", 0), ("bob", 0), ("cat", 2)):
        assert vote(daemon, poll, voter, [choice])[0] == 200
    started = time.monotonic()
    wait(browser, lambda: values(browser, "options") == ["2 · 67%", "0 · 0%", "1 · 33%"], seconds=1.5)
    assert time.monotonic() - started < 1.0
    assert text(browser, "voters") == "3"
    shoot(browser, "stage-projector", PROJECTOR)

    # The QR code decodes to the voting page's URL.
    qr = os.path.join(SHOTS, "stage-qr.png")
    browser.find_element(By.ID, "qr").screenshot(qr)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", qr], capture_output=True, text=True)
    assert decoded.stdout.strip() == f"http://127.0.0.1:{daemon.port}/vote/{poll}", decoded

    # The countdown runs to zero and the final result shows once the close worker finalized it.
    wait(browser, lambda: text(browser, "countdown") in ("0:00", "Closed"), seconds=8)
    wait(browser, lambda: text(browser, "status") == "Final result", seconds=5)
    assert text(browser, "countdown") == "Closed"
    assert "winner" in browser.find_elements(By.CSS_SELECTOR, "#options li")[0].get_attribute("class")
    shoot(browser, "stage-phone", PHONE)


def test_the_stage_screen_reconnects_when_its_stream_drops(browser):
    redis, redis_port = start_redis()
    port = free_port()
    daemon, config = start_tallyd(shared=(redis, redis_port), port=port)
    try:
        poll = create(daemon)
        browser.set_window_size(*PROJECTOR)
        browser.get(f"{daemon.url}/live/{poll}")
        wait(browser, lambda: text(browser, "status") == "Live results")
        # The daemon restarts on the same address; the stage's stream drops and is opened again.
        stop_tallyd(daemon, config)
        wait(browser, lambda: text(browser, "notice") == "Reconnecting…")
        daemon, config = start_tallyd(shared=(redis, redis_port), port=port)
        ready(daemon)
        assert vote(daemon, poll, "ann", [1])[0] == 200
        wait(browser, lambda: values(browser, "options") == ["0 · 0%", "1 · 100%", "0 · 0%"], seconds=15)
        assert not browser.find_element(By.ID, "notice").is_displayed()
    finally:
        stop_tallyd(daemon, config)
        redis.kill()
        redis.wait()


def test_the_qr_code_names_the_public_url_behind_a_proxy(browser):
    daemon, config = start_tallyd(server='public_url = "https://vote.example.com"')
    try:
        poll = create(daemon)
        browser.set_window_size(*PROJECTOR)
        browser.get(f"{daemon.url}/live/{poll}")
        wait(browser, lambda: browser.find_element(By.ID, "qr").size["width"] > 100)
        qr = os.path.join(SHOTS, "public-qr.png")
        browser.find_element(By.ID, "qr").screenshot(qr)
        decoded = subprocess.run(["zbarimg", "--quiet", "--raw", qr], capture_output=True, text=True).stdout.strip()
        assert decoded == f"https://vote.example.com/vote/{poll}"
    finally:
        stop_tallyd(daemon, config)


def test_an_after_close_poll_shows_no_counts_before_it_closes(tallyd_module, browser):
    daemon = tallyd_module
    poll = create(daemon, visibility="afterClose")
    assert vote(daemon, poll, "ann", [1])[0] == 200
    browser.set_window_size(*PROJECTOR)
    browser.get(f"{daemon.url}/live/{poll}")
    wait(browser, lambda: text(browser, "status") == "Results appear when voting closes")
    assert values(browser, "options") == ["", "", ""] and text(browser, "voters") == "–"
    assert api(daemon, "POST", f"/v1/polls/{poll}/close")[0] == 200
    wait(browser, lambda: values(browser, "options") == ["0 · 0%", "1 · 100%", "0 · 0%"])


def test_a_poll_that_hides_counts_shows_percentages_only(tallyd_module, browser):
    daemon = tallyd_module
    poll = create(daemon, hideCounts=True)
    for voter, choice in (("ann", 0), ("bob", 0), ("cat", 1), ("dan", 2)):
        assert vote(daemon, poll, voter, [choice])[0] == 200
    browser.set_window_size(*PROJECTOR)
    browser.get(f"{daemon.url}/live/{poll}")
    wait(browser, lambda: values(browser, "options") == ["50%", "25%", "25%"])
    assert text(browser, "voters") == "–"


def test_the_voting_page_takes_a_ballot_within_max_votes_and_shows_it_on_return(tallyd_module, browser):
    daemon = tallyd_module
    poll = create(daemon, maxVotes=2, visibility="afterVote")
    browser.set_window_size(*PHONE)
    browser.get(f"{daemon.url}/vote/{poll}#t={mint('dana')}")
    wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#options .choice")) == 3)
    assert text(browser, "hint") == "Choose up to 2."
    assert not browser.find_element(By.ID, "results").is_displayed(), "afterVote: no results before voting"
    buttons = browser.find_elements(By.CSS_SELECTOR, "#options .choice")
    buttons[0].click()
    buttons[2].click()
    assert not buttons[1].is_enabled(), "a third choice is refused in the page"
    shoot(browser, "vote-phone", PHONE)
    browser.find_element(By.ID, "submit").click()
    wait(browser, lambda: text(browser, "message").startswith("Thank you, your vote is in: Aurora, Cirrus"))
    wait(browser, lambda: browser.find_element(By.ID, "results").is_displayed())
    assert api(daemon, "GET", f"/v1/polls/{poll}", token=mint("dana"))[1]["ownChoices"] == [0, 2]

    # A second visit shows the stored ballot; a poll without revotes takes no other.
    browser.get("about:blank")
    browser.get(f"{daemon.url}/vote/{poll}#t={mint('dana')}")
    wait(browser, lambda: text(browser, "message") == "Your vote: Aurora, Cirrus.")
    pressed = [button.get_attribute("aria-pressed") for button in browser.find_elements(By.CSS_SELECTOR, "#options .choice")]
    assert pressed == ["true", "false", "true"]
    assert not browser.find_element(By.ID, "submit").is_enabled()
    shoot(browser, "vote-voted-phone", PHONE)
    shoot(browser, "vote-projector", PROJECTOR)


def test_the_voting_page_says_why_it_cannot_take_a_vote(tallyd_module, browser):
    daemon = tallyd_module
    closed = create(daemon)
    assert api(daemon, "POST", f"/v1/polls/{closed}/close")[0] == 200
    browser.get(f"{daemon.url}/vote/{closed}#t={mint('eve')}")
    wait(browser, lambda: text(browser, "hint") == "This poll is closed.")
    assert all(not button.is_enabled() for button in browser.find_elements(By.CSS_SELECTOR, "#options .choice"))

    open_poll = create(daemon)
    browser.get(f"{daemon.url}/vote/{open_poll}#t=not-a-token")
    wait(browser, lambda: text(browser, "message") == "This voting link is not valid. Open the link you were given.")
    browser.get(f"{daemon.url}/vote/{open_poll}")
    wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#options .choice")) == 3)
    browser.find_elements(By.CSS_SELECTOR, "#options .choice")[1].click()
    browser.find_element(By.ID, "submit").click()
    wait(browser, lambda: text(browser, "message") == "This voting link has no voter token. Open the link you were given.")


def test_a_private_polls_links_carry_its_token_in_the_fragment(tallyd_module, browser):
    daemon = tallyd_module
    poll = create(daemon, private=True)
    token = api(daemon, "GET", f"/v1/polls/{poll}")[1]["token"]
    browser.get(f"{daemon.url}/vote/{poll}#t={mint('fay')}")
    wait(browser, lambda: text(browser, "message") == "This poll is private. Open the link you were given.")
    browser.get("about:blank")
    browser.get(f"{daemon.url}/vote/{poll}#t={mint('fay')}&p={token}")
    wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#options .choice")) == 3)
    browser.find_elements(By.CSS_SELECTOR, "#options .choice")[0].click()
    browser.find_element(By.ID, "submit").click()
    wait(browser, lambda: text(browser, "message").startswith("Thank you"))
    browser.set_window_size(*PROJECTOR)
    browser.get(f"{daemon.url}/live/{poll}#p={token}")
    wait(browser, lambda: values(browser, "options") == ["1 · 100%", "0 · 0%", "0 · 0%"])
    qr = os.path.join(SHOTS, "private-qr.png")
    wait(browser, lambda: browser.find_element(By.ID, "qr").size["width"] > 100)
    browser.find_element(By.ID, "qr").screenshot(qr)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", qr], capture_output=True, text=True).stdout.strip()
    assert decoded == f"http://127.0.0.1:{daemon.port}/vote/{poll}#p={token}"


def test_the_console_creates_opens_watches_and_closes_a_poll(tallyd_module, browser):
    daemon = tallyd_module
    browser.set_window_size(1280, 900)
    browser.get(f"{daemon.url}/console")
    browser.find_element(By.ID, "token").send_keys(ORGANIZER)
    browser.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    wait(browser, lambda: browser.find_element(By.ID, "create").is_displayed())
    form = browser.find_element(By.ID, "create")
    form.find_element(By.NAME, "question").send_keys("Encore?")
    form.find_element(By.NAME, "options").send_keys("Yes\nNo")
    form.find_element(By.NAME, "draft").click()
    form.find_element(By.NAME, "labels").send_keys("show=finale")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(browser, lambda: text(browser, "message").startswith("Poll ") and "created" in text(browser, "message"))
    poll = text(browser, "message").split()[1]
    stored = api(daemon, "GET", f"/v1/polls/{poll}")[1]
    assert (stored["question"], stored["state"], [o["title"] for o in stored["options"]], stored["labels"]) == ("Encore?", "draft", ["Yes", "No"], {"show": "finale"})
    assert browser.find_element(By.ID, "vote-link").get_attribute("value") == f"{daemon.url}/vote/{poll}"
    assert browser.find_element(By.ID, "stage-link").get_attribute("value") == f"{daemon.url}/live/{poll}"

    row = lambda: browser.find_element(By.CSS_SELECTOR, f"tr[data-poll='{poll}']")
    row().find_element(By.CSS_SELECTOR, "button[data-action=open]").click()
    wait(browser, lambda: row().find_element(By.CLASS_NAME, "state").text == "open")
    assert vote(daemon, poll, "fan", [0])[0] == 200
    wait(browser, lambda: text(browser, "selected-voters") == "1 voter", seconds=3)
    assert values(browser, "selected-results") == ["1 · 100%", "0 · 0%"]
    assert row().find_element(By.CLASS_NAME, "count").text == "1", "the list follows the selected poll"
    shoot(browser, "console-projector", PROJECTOR)
    row().find_element(By.CSS_SELECTOR, "button[data-action=close]").click()
    wait(browser, lambda: row().find_element(By.CLASS_NAME, "state").text == "closed")
    assert api(daemon, "GET", f"/v1/polls/{poll}")[1]["state"] == "closed"
    shoot(browser, "console-phone", PHONE)
    browser.set_window_size(*PROJECTOR)


def test_pages_are_served_with_a_strict_policy_an_etag_and_gzip(tallyd_module):
    daemon = tallyd_module
    total = 0
    for path in ("/vote/1", "/pages/vote.js", "/pages/pages.css"):
        with urllib.request.urlopen(f"{daemon.url}{path}") as response:
            body = response.read()
            total += len(body)
            headers = response.headers
        assert "script-src 'self'" in headers["Content-Security-Policy"] and "default-src 'none'" in headers["Content-Security-Policy"]
        assert headers["Cache-Control"] == "no-cache" and headers["ETag"]
        request = urllib.request.Request(f"{daemon.url}{path}", headers={"Accept-Encoding": "gzip", "If-None-Match": '"other"'})
        with urllib.request.urlopen(request) as zipped:
            assert zipped.headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped.read()) == body
        with pytest.raises(urllib.error.HTTPError) as revalidated:
            urllib.request.urlopen(urllib.request.Request(f"{daemon.url}{path}", headers={"If-None-Match": headers["ETag"]}))
        assert revalidated.value.code == 304
    assert total <= 50_000, f"the voting page weighs {total} bytes"
    for path in ("/live/abc", "/pages/other.js", "/vote/1/x"):
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{daemon.url}{path}")
        assert missing.value.code == 404
