"""The hostile visitor: a script that speaks Streamlit's websocket protocol to a real server on
127.0.0.1 and sends what no browser would. Each attack is bounded in count and time.

What must hold: server memory does not jump on a decompression bomb; malformed values get a
plain message, never a traceback; names cannot inject Markdown into other visitors' pages;
passcode guesses are slowed; saved drawings and queue places are capped per client.
"""
import base64
import os
import struct
import time
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

import protocol
from mnistcore.lab import services
from mnistcore.lab.config import live_signal_path
from mnistcore.lab.feedback import FeedbackStore
from mnistcore.nets import load_model
from sitetools import FIRST_MLP, drawing, running_site, weights_copy
from test_site_state import browser, open_page  # noqa: F401 - browser is a fixture
from ui import uploads

CANVAS = "bidi_component"


def png_bomb(side: int) -> str:
    """A PNG data URL for a black side x side image: 1 bit per pixel, so small to send and to make,
    but `side * side * 4` bytes once decoded as RGBA (12000: 576 MB)."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte, then the row's bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def peak_memory_mb(pid: int) -> float:
    """The server process' peak resident memory so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


@pytest.fixture(scope="module")
def site(tmp_path_factory, mnist):
    """One server for the module: quick training (2,000 images), small drawing budget."""
    folder = tmp_path_factory.mktemp("hostile")
    env = {"MNISTLAB_TRAIN_LIMIT": "2000", "MNISTLAB_FEEDBACK_DB": str(folder / "lab.db"),
           "MNISTLAB_DRAWINGS_PER_MINUTE": "5"}
    with running_site(weights_copy(folder / "weights", mnist), env=env) as url:
        yield url, folder / "lab.db"


def draw_page(url: str) -> tuple[protocol.Visitor, str]:
    visitor = protocol.Visitor(url).open("draw")
    return visitor, next(c.id for c in visitor.of_type(CANVAS) if "drawable_canvas" in c.component_name)


def test_a_decompression_bomb_costs_the_server_nothing(site):
    url, _ = site
    visitor, canvas = draw_page(url)
    bomb = png_bomb(12000)
    assert len(bomb) < 1_000_000  # under a megabyte to send
    before = peak_memory_mb(url.pid)
    for value in (bomb, png_bomb(4096)):  # also a size a real canvas never has
        visitor.run(protocol.component(canvas, {"drawing": {"raw": {}, "data": value}}))
        assert "cannot be read" in visitor.text() and "does not fit a 280 x 280 canvas" in visitor.text()
        assert not visitor.of_type("exception")
    grew = peak_memory_mb(url.pid) - before
    print(f"\nserver peak memory before {before:.0f} MB, after two bombs {before + grew:.0f} MB")
    assert grew < 50
    visitor.close()


@pytest.mark.parametrize("value", [
    {"drawing": {"raw": {}, "data": "hello"}},                                  # not a data URL
    {"drawing": {"raw": {}, "data": "data:image/png;base64,!!!not base64!!!"}},  # bad base64
    {"drawing": {"raw": {}, "data": "data:image/png;base64," + "A" * 800_000}},  # over the byte budget
    {"drawing": {"raw": {}, "data": "data:image/tiff;base64,SUkqAAgAAAA="}},     # another format
    {"drawing": {"raw": {}, "data": "data:image/png;base64,iVBORw0KGgo="}},      # a PNG cut short
    {"drawing": {"raw": {}, "data": 12}}, {"drawing": "a string"}, ["a", "list"], "text", 7,
])
def test_malformed_drawings_get_a_message_not_a_traceback(site, value):
    url, _ = site
    visitor, canvas = draw_page(url)
    visitor.run(protocol.component(canvas, value))
    assert not visitor.of_type("exception"), visitor.text()
    # A plain message: either it cannot be read, or (a value that is no drawing at all) the hint.
    assert "cannot be read" in visitor.text() or "Draw a digit (0 to 9)" in visitor.text()
    shown = visitor.text()
    assert "Traceback" not in shown and "/work/" not in shown and "site-packages" not in shown
    visitor.close()


def numbered_drawing(n: int) -> dict:
    """A different drawing for each n (even once cropped and centred): a "1" slanted n ways."""
    picture = Image.new("L", (28, 28))
    ImageDraw.Draw(picture).line([(8 + n, 4), (14, 24)], fill=255, width=3)
    return drawing(np.asarray(picture))


def test_saving_drawings_is_capped_per_client(site):
    url, lab = site
    visitor, canvas = draw_page(url)
    before = FeedbackStore(lab).count() if lab.exists() else 0
    refused = 0
    for n in range(8):  # five a minute are allowed
        value = protocol.component(canvas, numbered_drawing(n))
        visitor.run(value)
        yes = visitor.widget_id("button", "Yes, it's a")
        visitor.run(value, protocol.click(yes))
        refused += "please wait" in visitor.text()
    assert FeedbackStore(lab).count() - before == 5 and refused == 3
    visitor.close()


def test_names_cannot_carry_markdown_or_pose_as_visitors(site):
    url, _ = site
    ada = protocol.Visitor(url).open("train")
    start = ada.widget_id("button", "Start training")
    name = ada.widget_id("text_input", "Your name")
    for bad in ("www.evil-example.com", "__Admin__", "[win](http://evil.example)", "Visitor 3F2A",
                "V\u0456sitor 3F2A", "Teacher - server restarts now - go to room 4"):
        ada.run(protocol.text(name, bad), protocol.click(start))
        assert "Please choose another name" in ada.text() and "Your model is training" not in ada.text()
    grace = protocol.Visitor(url).open("train")
    assert "evil" not in grace.text() and "Admin" not in grace.text() and "Start training" in grace.text()
    assert "restarts" not in grace.text() and "V\u0456sitor" not in grace.text()
    ada.close()
    grace.close()


def test_one_client_cannot_hoard_the_queue(site):
    url, _ = site
    visitors, outcomes = [], []
    for _ in range(4):  # four sessions of one script, from one address
        visitor = protocol.Visitor(url).open("train")
        epochs = visitor.widget_id("number_input", "Epochs")
        batch = visitor.widget_id("number_input", "Batch size")
        rate = visitor.widget_id("number_input", "Learning rate")  # small steps: batch 1 must not blow up
        button = next(b.id for b in visitor.of_type("button") if b.label in ("Start training", "Join the queue"))
        visitor.run(protocol.number(epochs, 30), protocol.number(batch, 1), protocol.number(rate, 0.01),
                    protocol.click(button))
        outcomes.append(visitor.text())
        visitors.append(visitor)
    assert "Your model is training" in outcomes[0]
    assert "You are number 1 in the queue" in outcomes[1]
    assert all("this device already has 2 runs" in text for text in outcomes[2:])
    watcher = protocol.Visitor(url).open("train")
    assert "Waiting (1 of 5 places taken)" in watcher.text()
    # Leave the queue and stop the run, so the server is idle again.
    visitors[1].run(protocol.click(visitors[1].widget_id("button", "Leave the queue")))
    visitors[0].run(protocol.click(visitors[0].widget_id("button", "Stop")))
    for visitor in visitors + [watcher]:
        visitor.close()


def own_browser(url: str, **kwargs) -> protocol.Visitor:
    """A session from a browser of its own: it carries its own Streamlit cookie (a random token)."""
    return protocol.Visitor(url, cookie=f"_streamlit_xsrf={generate_xsrf_token_string()}", **kwargs)


def guess(visitor: protocol.Visitor, passcode: str) -> str:
    field, button = visitor.widget_id("text_input", "Passcode"), visitor.widget_id("button", "Unlock")
    return visitor.run(protocol.text(field, passcode), protocol.click(button)).text()


def test_passcode_guesses_are_slowed_but_never_the_holders(tmp_path, small_mnist):
    # Two server processes on one lab: guesses are counted once, whichever process takes them.
    weights = weights_copy(tmp_path / "weights", small_mnist)
    env = {"MNISTLAB_PASSCODE": "correct horse battery staple", "MNISTLAB_FEEDBACK_DB": str(tmp_path / "lab.db")}
    with running_site(weights, env=env) as one, running_site(weights, env=env) as two:
        checked, slowed = [], 0  # the guesses that were checked against the passcode
        for n in range(14):  # a script from one address, a fresh session each time, on either process
            visitor = protocol.Visitor(one if n % 2 else two).open("train")
            shown = guess(visitor, f"guess {n}")
            if "not the passcode" in shown:
                checked.append(n)
            else:
                assert "Too many wrong passcodes" in shown and "minute" in shown, shown
                slowed += 1
            visitor.close()
        assert checked == list(range(services.PASSCODE_GUESSES["device"])) and slowed == 4
        # The teacher, on another device behind the same address, is let in at once.
        teacher = own_browser(one).open("train")
        assert "Too many" not in guess(teacher, "correct horse battery staple")
        assert "Start training" in teacher.text()
        teacher.close()
        print(f"\n{len(checked)} of 14 guesses checked, {slowed} slowed; the holder let in")


def test_a_link_cannot_share_a_visitors_run(site):
    url, _ = site
    attacker = own_browser(url, query="visitor=AAAAAAAAAAAAAAAAAAAAAA").open("train")
    epochs, batch = attacker.widget_id("number_input", "Epochs"), attacker.widget_id("number_input", "Batch size")
    rate = attacker.widget_id("number_input", "Learning rate")
    attacker.run(protocol.number(epochs, 30), protocol.number(batch, 1), protocol.number(rate, 0.01),
                 protocol.click(attacker.widget_id("button", "Start training")))
    assert "Your model is training" in attacker.text()
    victim = own_browser(url, query="visitor=AAAAAAAAAAAAAAAAAAAAAA").open("train")  # the attacker's link
    assert "Your model is training" not in victim.text()
    with pytest.raises(KeyError):
        victim.widget_id("button", "Stop")
    again = protocol.Visitor(url, cookie=attacker.cookie).open("train")  # the attacker's own browser, reloaded
    assert "Your model is training" in again.text()
    again.run(protocol.click(again.widget_id("button", "Stop")))
    for visitor in (attacker, victim, again):
        visitor.close()


def test_a_room_behind_one_address_is_many_devices(site):
    url, _ = site
    room, outcomes = [], []
    for _ in range(3):  # three browsers from one address, one after the other
        visitor = own_browser(url).open("train")
        room.append(visitor)
        epochs, batch = visitor.widget_id("number_input", "Epochs"), visitor.widget_id("number_input", "Batch size")
        rate = visitor.widget_id("number_input", "Learning rate")
        button = next(b.id for b in visitor.of_type("button") if b.label in ("Start training", "Join the queue"))
        visitor.run(protocol.number(epochs, 30), protocol.number(batch, 1), protocol.number(rate, 0.01),
                    protocol.click(button))
        outcomes.append(visitor.text())
    # (The run a test before stopped may still be ending: then the first waits its turn too.)
    assert all("Your model is training" in text or "in the queue" in text for text in outcomes), outcomes
    assert "You are number 2 in the queue" in outcomes[2] or "You are number 3 in the queue" in outcomes[2]
    room[2].run(protocol.click(room[2].widget_id("button", "Leave the queue")))
    room[1].run(protocol.click(room[1].widget_id("button", "Leave the queue")))
    room[0].run(protocol.click(next(b.id for b in room[0].of_type("button") if b.label in ("Stop", "Leave the queue"))))
    for visitor in room:
        visitor.close()


def put_file(url: str, path: str, data: bytes) -> int:
    """PUT `data` as one multipart file to `path` on the site, as a browser's uploader does; the
    HTTP status. Its XSRF cookie and header are any well-formed token: Streamlit checks they match."""
    token = generate_xsrf_token_string()
    cookie = f"_streamlit_xsrf={token}"
    boundary = "mnistlab-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + path, data=body, method="PUT", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Cookie": cookie,
        "X-Xsrftoken": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError:  # the server closed the connection before the whole body arrived
        return 0


def resident_mb(pid: int) -> float:
    """The server process' resident memory now (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc")


def test_uploads_only_for_an_uploader_on_the_page(site):
    url, _ = site
    home = protocol.Visitor(url)  # the home page shows no uploader
    assert home.session_id and home.upload_urls("a.png") == []
    made_up = f"/_stcore/upload_file/{home.session_id}/{uuid.uuid4()}"
    before = resident_mb(url.pid)
    statuses = {put_file(url, made_up.rsplit("/", 1)[0] + f"/{uuid.uuid4()}", bytes(1_000_000)) for _ in range(20)}
    assert statuses == {403}
    assert peak_memory_mb(url.pid) - before < 100
    home.close()
    visitor, _ = draw_page(url)  # Draw's "Digit on paper" shows the camera and an uploader: URLs given, each good once
    assert visitor.upload_urls("photo.png") == []
    paper = WidgetState(id=visitor.widget_id("button_group", "Read a digit"))
    paper.string_array_value.data.append(":material/photo_camera: Digit on paper")
    visitor.run(paper)
    first, second, third = (visitor.upload_urls("photo.png")[0] for _ in range(3))
    assert put_file(url, first, b"photo one") == 204 and put_file(url, first, b"again") == 403
    assert put_file(url, second, b"photo two") == 204 and put_file(url, third, b"photo three") == 204
    assert put_file(url, f"/_stcore/upload_file/{visitor.session_id}/{uuid.uuid4()}", b"x") == 403
    issued = 3
    while visitor.upload_urls("photo.png"):  # a budget of upload URLs per visit
        issued += 1
        assert issued < 1000
    assert issued == uploads.UPLOADS_PER_SESSION
    visitor.close()


def test_wrong_labels_chosen_from_the_bars_do_not_reach_training(tmp_path, mnist):
    # The attacker reads the page's bars for 40 clear digits the model reads right at 90-98% (as
    # drawings on the page often are) and gives each the tallest wrong bar's digit: the label most
    # likely to pass a check on how much the model disagrees.
    model = load_model(FIRST_MLP)
    _, (x_test, y_test) = mnist
    bars = model.predict_proba(x_test[:5000])
    clear = [i for i in range(5000) if bars[i].argmax() == y_test[i] and 0.9 < bars[i].max() < 0.98][:40]
    store = FeedbackStore(tmp_path / "lab.db")
    for i in clear:
        wrong = int(np.argsort(bars[i])[-2])
        store.add(x_test[i], label=wrong, predicted=int(y_test[i]), confidence=float(bars[i].max()), model="live",
                  raw_size=(280, 280), visitor="attacker-0001", probabilities=bars[i])
    assert len(clear) == 40 and store.count() == 40
    trained = len(store.training_set())
    print(f"\n{trained} of 40 wrong labels chosen from the bars would be trained on")
    assert trained <= 1


def test_static_serves_no_hidden_files_and_is_cleaned(tmp_path, small_mnist):
    static = live_signal_path(tmp_path).parent
    stale = static / "live-00000000000000aa.json"   # left by a store on a folder long gone
    fresh = static / "live-00000000000000bb.json"   # another server's, rewritten lately
    hidden = static / ".secret"
    for path in (stale, fresh, hidden):
        path.write_text("{}")
    month_ago = time.time() - 30 * 24 * 3600
    os.utime(stale, (month_ago, month_ago))
    try:
        with running_site(weights_copy(tmp_path / "weights", small_mnist)) as url:
            protocol.Visitor(url).open("draw").close()  # the first visitor makes the model store
            assert not stale.exists() and fresh.exists() and not hidden.exists()
            for name in (".secret", ".gitignore", stale.name):
                with pytest.raises(urllib.error.HTTPError, match="404"):
                    urllib.request.urlopen(f"{url}/app/static/{name}", timeout=10)
    finally:
        for path in (stale, fresh, hidden):
            path.unlink(missing_ok=True)


@pytest.mark.browser
def test_a_real_browser_still_uploads_a_photo(tmp_path, small_mnist, browser):  # noqa: F811 - the fixture
    # The upload rules (ui/uploads.py) let a real page's uploader through: Streamlit's own frontend
    # asks for an upload URL, then puts the file there.
    blank = tmp_path / "blank.jpg"
    Image.new("L", (640, 480), 200).save(blank, format="JPEG")  # grey paper, nothing written on it
    with running_site(weights_copy(tmp_path / "weights", small_mnist)) as url:
        page = open_page(browser, f"{url}/draw")
        page.get_by_text("Digit on paper").click()
        page.locator("input[type=file]").last.set_input_files(str(blank))
        page.get_by_text("No digit found").wait_for(timeout=30_000)
