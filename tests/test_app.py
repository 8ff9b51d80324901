"""The web app (app.py) in a real browser (headless Chromium) and through its API."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnist.data import load_split

from conftest import REPO, free_port, needs_system, write_malicious

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def work(momentum_run, datafile, tmp_path_factory):
    """A work folder as train.py leaves it: mnist.pdparams and one run directory; and a
    malicious evil.pdparams from elsewhere, which would create evil-code-ran if its code ran."""
    _result, run_dir, params = momentum_run
    work = tmp_path_factory.mktemp("app-work")
    shutil.copy(params, work / "mnist.pdparams")
    shutil.copytree(run_dir, work / "runs" / "momentum-1")
    write_malicious(work / "evil.pdparams", work / "evil-code-ran")
    return work


@pytest.fixture(scope="module")
def server(work, datafile):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(REPO / "app.py"), "--port", str(port),
                             "--work", str(work), "--datafile", str(datafile)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    first = proc.stdout.readline()
    assert f"http://127.0.0.1:{port}" in first, first
    url = f"http://127.0.0.1:{port}/"
    for _ in range(120):
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def pictures(datafile, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-pictures")
    images, labels = load_split("eval", datafile)
    seven = int(np.flatnonzero(labels == 7)[0])
    Image.fromarray(np.round(255 * (1 - images[seven, 0])).astype(np.uint8)).resize(
        (140, 140)).save(folder / "seven.png")
    (folder / "notes.png").write_text("this is not a picture")
    Image.new("L", (1, 1), 0).save(folder / "dot.png")
    Image.new("L", (300, 300), 255).save(folder / "blank.png")
    (folder / "truncated.jpg").write_bytes(_jpeg(Image.new("L", (400, 400), 200))[:300])
    big = Image.new("L", (8000, 6250), 235)  # 50 megapixels, a digit small in a corner
    big.paste(Image.open(folder / "seven.png").resize((900, 900)), (6000, 400))
    big.save(folder / "photo-50mp.jpg", quality=70)
    (folder / "huge.png").write_bytes(b"\x89PNG" + os.urandom(21 * 1024 * 1024))
    from test_numbers import typed_number

    typed_number(folder / "2026.jpg")
    return folder


def _jpeg(image):
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------
# The API, with gradio_client
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server, verbose=False)


def upload(client, path, model="mnist.pdparams", mode="one digit"):
    from gradio_client import handle_file

    return client.predict(model, handle_file(str(path)), mode, api_name="/predict_upload")


def test_api_predicts_an_uploaded_picture(client, pictures):
    message, label, seen = upload(client, pictures / "seven.png")
    assert "Prediction: 7" in message
    assert label["label"] == "7" and len(label["confidences"]) == 10
    import base64
    import io

    png = base64.b64decode(seen.split("base64,")[1].split('"')[0])
    assert Image.open(io.BytesIO(png)).size == (224, 224)


@pytest.mark.parametrize("name, words", [
    ("notes.png", "not an image"), ("dot.png", "1x1"), ("blank.png", "no digit"),
    ("truncated.jpg", "damaged or truncated"),
])
def test_api_bad_pictures_get_a_message(client, pictures, name, words):
    message, label, seen = upload(client, pictures / name)
    assert message.startswith("Cannot read") and words in message, message
    assert not label and not seen  # the Label shows nothing (the client gets {})


def test_api_large_photo_and_refused_upload_and_the_server_goes_on(client, pictures):
    message, _label, _seen = upload(client, pictures / "photo-50mp.jpg")
    assert "Prediction: 7" in message, message
    # over 20 MB: refused before the app sees it (gradio_client's error class varies by version)
    with pytest.raises(Exception):  # noqa: B017
        upload(client, pictures / "huge.png")
    assert "Prediction: 7" in upload(client, pictures / "seven.png")[0]


def test_api_takes_only_listed_models_and_runs(client, pictures, work, datafile):
    from gradio_client.exceptions import AppError

    from mnist.app import Models, run_report

    for call in (lambda: upload(client, pictures / "seven.png", model="../../etc/passwd"),
                 lambda: client.predict("../runs/momentum-1", api_name="/run_report")):
        with pytest.raises(AppError, match="not in the list of choices"):
            call()
    # and behind Gradio's own check, the app's: a name, never a path
    with pytest.raises(Exception, match="unknown model"):
        Models(work).get("../mnist.pdparams")
    assert run_report(work, datafile, "../runs/momentum-1")[0].startswith("Unknown run")
    assert "Prediction: 7" in upload(client, pictures / "seven.png")[0]


def test_api_a_malicious_model_is_a_message_and_never_runs(client, pictures, work):
    message, label, seen = upload(client, pictures / "seven.png", model="evil.pdparams")
    assert "evil.pdparams holds something other than parameters" in message, message
    assert not label and not seen
    assert not (work / "evil-code-ran").exists()
    assert "Prediction: 7" in upload(client, pictures / "seven.png")[0]  # the page goes on


def test_api_reads_a_number(client, pictures):
    message, label, seen = upload(client, pictures / "2026.jpg", mode="a number")
    assert "Number: 2026" in message and "4 digits" in message, message
    assert not label
    assert seen.count("<img") == 5 and 'id="boxes"' in seen  # the boxes, and each digit's input
    message, _label, _seen = upload(client, pictures / "blank.png", mode="a number")
    assert message.startswith("Cannot read a number there: no digits found"), message


def test_api_empty_canvas_asks_for_a_drawing(client):
    message, label, _seen = client.predict("mnist.pdparams", None, "one digit",
                                           api_name="/predict_sketch")
    assert "Draw a digit" in message and not label


def lesson(client, path, se="mse (shipped)", ce="mnist.pdparams", truth="7"):
    from gradio_client import handle_file

    return client.predict(se, ce, None, handle_file(str(path)), truth, api_name="/lesson_upload")


def test_api_lesson_tab_puts_square_error_beside_cross_entropy(client, pictures):
    ruler, probs, message, table = lesson(client, pictures / "seven.png")
    assert "Square error: answer" in ruler and "0 to 9 ruler" in ruler, ruler
    assert probs["label"] == "7", probs  # the ten-output model reads the 7
    assert "Cross-entropy: answer 7" in message, message
    assert "(y − ŷ)² = (7 − " in message and "−log p<sub>7</sub>" in message, message
    assert table.count("<tr>") == 11 and "softmax" in table  # a header and ten digits


def test_api_lesson_tab_says_which_kind_of_model_each_side_needs(client, pictures):
    _r, _p, message, _t = lesson(client, pictures / "seven.png", se="mnist.pdparams",
                                 ce="mse (shipped)")
    assert "mnist.pdparams gives 10 outputs (a cross-entropy model); this side needs one " \
           "output" in message, message
    _r, _p, message, _t = lesson(client, pictures / "notes.png")
    assert message.startswith("Cannot read that file"), message


def test_lesson_tab_lists_each_kind_by_its_output_shape(work):
    from mnist.app import find_models
    from mnist.lessontab import choices, split_by_kind

    se, ce = split_by_kind(find_models(work))
    assert se == ["mse (shipped)"]
    assert ce == ["mnist.pdparams", "runs/momentum-1", "robust (shipped)", "lesson (shipped)"]
    assert choices(se, ce, 1)[:2] == [("mse (shipped) · 1 output", "mse (shipped)"),
                                      ("mnist.pdparams · 10 outputs", "mnist.pdparams")]
    assert not (work / "evil-code-ran").exists()  # evil.pdparams was read as data, and refused


def test_missing_gradio_says_how_to_install(tmp_path):
    blocker = tmp_path / "gradio"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('no gradio here')\n")
    result = subprocess.run([sys.executable, str(REPO / "app.py")], cwd=REPO, text=True,
                            capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": f"{tmp_path}:{REPO}"})
    assert result.returncode == 2
    assert result.stderr.strip() == 'app.py: error: the web app needs Gradio: pip install -e ".[app]"'


# ----------------------------------------------------------------------------------------------
# The page, in headless Chromium
# ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser():
    needs_system(Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(),
                 "Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1300,1250"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(driver, css, predicate, timeout=30):
    from selenium.webdriver.common.by import By

    end = time.time() + timeout
    while time.time() < end:
        elements = driver.find_elements(By.CSS_SELECTOR, css)
        if elements and predicate(elements[0]):
            return elements[0]
        time.sleep(0.2)
    texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, css)]
    raise AssertionError(f"{css} never matched; it shows {texts}")


def test_page_draw_a_one_then_upload_pictures(browser, server, pictures):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(server)
    wait_for(browser, "#sketch button[aria-label='Brush']", lambda e: True)
    time.sleep(1)  # the page picks the brush
    canvas = browser.find_elements(By.CSS_SELECTOR, "#sketch canvas")[-1]
    height = canvas.size["height"]
    stroke = ActionChains(browser).move_to_element_with_offset(canvas, 5, -int(height * 0.3))
    stroke.click_and_hold()
    for _ in range(12):  # a vertical stroke, top to bottom: a one
        stroke.move_by_offset(-1, int(height * 0.05))
    stroke.release().perform()
    wait_for(browser, "#message", lambda e: "Prediction: 1" in e.text)
    wait_for(browser, "#seen img", lambda e: bool(e.get_attribute("src")))
    if os.environ.get("PADDLE_MNIST_SCREENSHOT"):
        browser.save_screenshot(os.environ["PADDLE_MNIST_SCREENSHOT"])

    upload = browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]")
    upload.send_keys(str(pictures / "seven.png"))
    wait_for(browser, "#message", lambda e: "Prediction: 7" in e.text)
    browser.get(server)  # a fresh page: the file box holds one file
    upload = wait_for(browser, "#upload input[type=file]", lambda e: True)
    upload.send_keys(str(pictures / "notes.png"))
    wait_for(browser, "#message", lambda e: "Cannot read that file" in e.text)


def test_page_draw_twelve_and_read_the_number(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(server)
    wait_for(browser, "#sketch button[aria-label='Brush'].highlight", lambda e: True)  # picked
    [label for label in browser.find_elements(By.CSS_SELECTOR, "#mode label")
     if "a number" in label.text][0].click()
    wait_for(browser, "#message", lambda e: "Draw a number" in e.text)  # the choice is read
    canvas = browser.find_elements(By.CSS_SELECTOR, "#sketch canvas")[-1]
    w, h = canvas.size["width"], canvas.size["height"]

    def stroke(points):  # offsets from the canvas's centre, as shares of its size
        chain = ActionChains(browser).move_to_element_with_offset(
            canvas, int(points[0][0] * w), int(points[0][1] * h)).click_and_hold()
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for _ in range(4):
                chain.move_by_offset(int((x1 - x0) * w / 4), int((y1 - y0) * h / 4))
        chain.release().perform()

    stroke([(-0.15, -0.3), (-0.15, 0.3)])  # a one
    wait_for(browser, "#message", lambda e: "Number: 1" in e.text, timeout=30)
    arc = [(0.05 + 0.08 * np.cos(t), -0.15 - 0.15 * np.sin(t)) for t in np.linspace(2.8, -0.5, 8)]
    stroke(arc + [(0.04, 0.3), (0.16, 0.3)])  # a two: the arc, down to the left, the base
    wait_for(browser, "#message", lambda e: "Number: 12" in e.text, timeout=30)
    boxes = wait_for(browser, "#boxes img", lambda e: bool(e.get_attribute("src")))
    assert boxes.size["width"] > 200
    assert len(browser.find_elements(By.CSS_SELECTOR, "#seen figure.digit img")) == 2
    if os.environ.get("PADDLE_MNIST_SCREENSHOT"):
        browser.save_screenshot(os.environ["PADDLE_MNIST_SCREENSHOT"].replace(".png", "-12.png"))


def test_page_look_at_a_run(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server)
    wait_for(browser, "button[role=tab]", lambda e: True)
    [t for t in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]")
     if "Look at a run" in t.text][0].click()
    choose = wait_for(browser, "#run input", lambda e: e.is_displayed())
    choose.click()
    choose.send_keys("momentum-1")
    choose.send_keys(Keys.ENTER)
    wait_for(browser, "#run-message", lambda e: "eval accuracy" in e.text, timeout=60)
    report = wait_for(browser, "#report img", lambda e: bool(e.get_attribute("src")), timeout=60)
    assert report.size["width"] > 300


def test_page_lesson_tab_a_drawn_seven_through_both_models(browser, server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(server)
    wait_for(browser, "button[role=tab]", lambda e: True)
    [t for t in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]")
     if "Square error or cross-entropy" in t.text][0].click()
    wait_for(browser, "#lesson-sketch button[aria-label='Brush'].highlight", lambda e: True)
    time.sleep(1)  # the brush, picked, takes a moment to draw
    canvas = [c for c in browser.find_elements(By.CSS_SELECTOR, "#lesson-sketch canvas")
              if c.is_displayed()][0]
    # pixels from the canvas's centre, inside its 280x280 drawing area
    chain = ActionChains(browser).move_to_element_with_offset(canvas, -80, -90).click_and_hold()
    for _ in range(8):  # the bar of a 7, left to right
        chain.move_by_offset(20, 0)
    for _ in range(10):  # its stroke, down and to the left
        chain.move_by_offset(-8, 19)
    chain.release().perform()
    wait_for(browser, "#losses", lambda e: "Cross-entropy: answer 7" in e.text, timeout=30)
    [label for label in browser.find_elements(By.CSS_SELECTOR, "#truth label")
     if label.text.strip() == "7"][0].click()
    losses = wait_for(browser, "#losses", lambda e: "−log" in e.text, timeout=30)
    assert "(y − ŷ)²" in losses.text and "Square error" in losses.text
    assert "Square error: answer" in browser.find_element(By.CSS_SELECTOR, "#se-answer").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#ce-outputs tr")) == 11
    if os.environ.get("PADDLE_MNIST_SCREENSHOT"):
        browser.save_screenshot(os.environ["PADDLE_MNIST_SCREENSHOT"].replace(".png", "-lesson.png"))
