"""Demo mode: training and changing the live model switched off, or behind a passcode, by configuration.

Configuration comes from the environment (MNISTLAB_DEMO, MNISTLAB_PASSCODE) or from the [mnistlab]
section of Streamlit's secrets.toml (demo, passcode). Each test points Streamlit at a secrets file
of its own in a temporary folder (or at none), so a developer's own .streamlit/secrets.toml never
changes the outcome. Also here: the other setting for a shared server, the heartbeat timeout.
"""
import os

import pytest
import streamlit
from streamlit import config as streamlit_config
from streamlit.runtime.secrets import Secrets
from streamlit.testing.v1 import AppTest

from mnistcore.lab import config, services
from mnistcore.lab.limits import SharedRateLimit
from mnistcore.lab.store import ModelStore
from ui.resources import slot
from sitetools import APP, drawing, tiny_model, weights_copy


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    """Point Streamlit at tmp_path/secrets.toml (absent until a test writes it); returns its path."""
    path = tmp_path / "secrets.toml"
    saved = streamlit_config.get_option("secrets.files")
    streamlit_config.set_option("secrets.files", [str(path)])
    monkeypatch.setattr(streamlit, "secrets", Secrets())  # a fresh one: nothing read or cached yet
    for key in (config.DEMO_ENV, config.PASSCODE_ENV):
        monkeypatch.delenv(key, raising=False)
    yield path
    streamlit_config.set_option("secrets.files", saved)
    for key in (config.DEMO_ENV, config.PASSCODE_ENV):  # Streamlit copies top-level text secrets into
        os.environ.pop(key, None)  # os.environ; monkeypatch then restores what was set before


@pytest.fixture
def site_at(tmp_path, monkeypatch, small_mnist, secrets_file):
    """A visitor's AppTest on the site, with its own weights; call it to open a page."""
    folder = weights_copy(tmp_path / "weights", small_mnist)
    ModelStore(folder).publish(tiny_model(small_mnist))  # so that the shipped default could be made live again
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "1000")

    def open_page(page: str, at: AppTest | None = None) -> AppTest:
        if at is None:
            at = AppTest.from_file(str(APP), default_timeout=60)
            at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_page


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


def read_only(at: AppTest) -> bool:
    """The Train page without any way to train or to change the live model."""
    return not {"Start training", "Join the queue", "Make live"} & set(labels(at)) and not at.number_input


def test_by_default_training_is_open(site_at, secrets_file):
    assert not secrets_file.exists()  # no secrets file at all must not crash anything
    at = site_at("pages/train.py")
    assert {"Start training", "Make live"} <= set(labels(at)) and not at.text_input(key="owner").value
    assert not any("demo" in i.value for i in at.info)
    at = site_at("pages/home.py", at)
    train = next(c.value for c in at.caption if c.value.startswith("Train a network yourself"))
    assert "demo" not in train and "passcode" not in train


@pytest.mark.parametrize("where", ["environment", "secrets.toml"])
def test_demo_mode_switches_training_off_and_leaves_draw_and_gallery_open(site_at, secrets_file, monkeypatch,
                                                                         where, mnist):
    if where == "environment":
        monkeypatch.setenv("MNISTLAB_DEMO", "1")
    else:
        secrets_file.write_text("[mnistlab]\ndemo = true\n")
    at = site_at("pages/train.py")
    assert any("Training is off in this demo" in i.value for i in at.info)
    assert read_only(at) and not at.text_input  # no passcode box either
    assert "Earlier models" in [s.value for s in at.header] and at.dataframe  # the runs, to look at
    assert any("Live model" in c.value for c in at.caption)
    home = site_at("pages/home.py", at)
    assert any("training is off" in caption.value for caption in home.caption)
    gallery = site_at("pages/gallery.py", at)
    assert gallery.metric[0].label == "Test accuracy" and len(gallery.image[0].captions) == 48
    draw = site_at("pages/draw.py", at)
    (_, _), (x_test, _) = mnist
    draw.session_state["canvas"] = drawing(x_test[0])
    draw.run()
    assert [h.value[:-1] for h in draw.header] == ["Prediction: "]  # the live model reads it


@pytest.mark.parametrize("written", ["true", '"yes"'])
def test_the_environment_wins_over_secrets_toml(site_at, secrets_file, monkeypatch, written):
    secrets_file.write_text(f"[mnistlab]\ndemo = {written}\n")
    monkeypatch.setenv("MNISTLAB_DEMO", "0")
    assert "Start training" in labels(site_at("pages/train.py"))


def test_settings_at_the_top_of_secrets_toml_are_refused_and_close_training(site_at, secrets_file):
    secrets_file.write_text("MNISTLAB_DEMO = false\n")  # not in [mnistlab]: maybe not what was meant
    at = site_at("pages/train.py")
    assert any("write them in its [mnistlab] section" in w.value for w in at.warning) and read_only(at)


def test_a_passcode_is_asked_once_per_session(site_at, secrets_file):
    secrets_file.write_text('[mnistlab]\ndemo = true\npasscode = "correct horse"\n')
    at = site_at("pages/train.py")
    assert any("needs the lab's passcode" in i.value for i in at.info) and read_only(at)
    at.text_input(key="passcode").input("wrong horse")
    at.button[labels(at).index("Unlock training")].click().run()
    assert any("not the passcode" in e.value for e in at.error) and read_only(at)
    at.text_input(key="passcode").input(" correct horse ")  # stray spaces are forgiven
    at.button[labels(at).index("Unlock training")].click().run()
    assert not at.error and "Start training" in labels(at) and "Unlock training" not in labels(at)
    # Once per session: still unlocked on coming back; another visitor's session is still locked.
    site_at("pages/draw.py", at)
    assert "Start training" in labels(site_at("pages/train.py", at))
    assert read_only(site_at("pages/train.py"))


class FakeClock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def guess(at: AppTest, passcode: str) -> str:
    """Try `passcode` on the Train page; what the page says against it ("" when it unlocked)."""
    at.text_input(key="passcode").input(passcode)
    at.button[labels(at).index("Unlock training")].click().run()
    return " ".join(e.value for e in at.error)


def test_wrong_passcodes_are_few_an_hour_on_this_device(site_at, monkeypatch, tmp_path):
    # The servers' shared count, on a clock the test moves on: no real waiting.
    clock = FakeClock()
    guesses = SharedRateLimit(tmp_path / "limits.db", "passcode", services.PASSCODE_GUESSES,
                              services.PASSCODE_WINDOW, clock=clock)
    monkeypatch.setattr(services, "passcode_guesses", lambda: guesses)
    monkeypatch.setenv("MNISTLAB_PASSCODE", "sesame")
    at = site_at("pages/train.py")
    allowed = services.PASSCODE_GUESSES["device"]
    for n in range(allowed):
        clock.now += 60
        assert "not the passcode" in guess(at, f"guess {n}")
    assert "please try again in 51 minutes" in guess(at, "guess 10")  # refused, not counted
    other = site_at("pages/train.py")  # a fresh session on the same device waits as long
    assert "please try again in 51 minutes" in guess(other, "sesame")
    clock.now = 1060 + services.PASSCODE_WINDOW  # the first guess has left the hour: one more may be tried
    assert "not the passcode" in guess(other, "guess 11")
    assert "please try again in 1 minute." in guess(at, "guess 12")
    clock.now += 60
    assert guess(at, "sesame") == "" and "Start training" in labels(at)


def test_with_a_passcode_only_it_still_needs_the_passcode(site_at, monkeypatch):
    monkeypatch.setenv("MNISTLAB_PASSCODE", "sesame")  # without MNISTLAB_DEMO: a passcode always locks
    at = site_at("pages/train.py")
    assert read_only(at) and at.text_input(key="passcode")


def test_in_demo_mode_a_finished_model_cannot_be_published_or_an_old_one_made_live(site_at, monkeypatch):
    at = site_at("pages/train.py")  # open: train a tiny model
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="hidden").set_value(16)
    at.button[labels(at).index("Start training")].click().run()
    assert slot().wait(60)
    at.run()
    assert any(b.startswith("Publish") for b in labels(at)) and "Make live" in labels(at)
    monkeypatch.setenv("MNISTLAB_DEMO", "yes")  # the server is switched to demo mode
    at.run()
    # The visitor still sees how their run did (a 16-unit model is under the floor: red)...
    assert "Test accuracy" in at.error[0].value
    assert not any(b.startswith("Publish") for b in labels(at))  # ...but cannot publish it
    assert any("Publishing is off in this demo" in i.value for i in at.info) and read_only(at)


def test_a_mistake_in_the_configuration_closes_training(site_at, secrets_file, monkeypatch):
    monkeypatch.setenv("MNISTLAB_DEMO", "maybe")
    at = site_at("pages/train.py")
    assert any("MNISTLAB_DEMO is 'maybe'" in w.value for w in at.warning) and read_only(at)


def test_an_unreadable_secrets_file_closes_training(site_at, secrets_file):
    secrets_file.write_text("[mnistlab]\ndemo = [not toml\n")
    at = site_at("pages/train.py")
    assert any("secrets file could not be read" in w.value for w in at.warning) and read_only(at)
    assert site_at("pages/gallery.py", at).metric  # the rest of the site is unaffected


@pytest.mark.parametrize("secrets, environ, demo, passcode", [
    ({}, {}, False, None),
    ({"demo": True}, {}, True, None),
    ({"demo": False}, {}, False, None),
    ({"demo": "on"}, {}, True, None),
    ({}, {"MNISTLAB_DEMO": " Yes "}, True, None),
    ({"demo": True}, {"MNISTLAB_DEMO": "off"}, False, None),
    ({"passcode": 1234}, {}, True, "1234"),
    ({"passcode": "a"}, {"MNISTLAB_PASSCODE": "b"}, True, "b"),
])
def test_access_rules(secrets, environ, demo, passcode):
    rules = config.access(secrets, environ)
    assert (rules.demo, rules.passcode, rules.problem, rules.open) == (demo, passcode, None, not demo)


@pytest.mark.parametrize("secrets, environ, says", [
    ({}, {"MNISTLAB_DEMO": "0", "MNISTLAB_PASSCODE": "  "}, "MNISTLAB_PASSCODE is set but blank"),
    ({}, {"MNISTLAB_PASSCODE": ""}, "MNISTLAB_PASSCODE is set but blank"),
    ({"demo": True}, {"MNISTLAB_DEMO": ""}, "MNISTLAB_DEMO is set but blank"),
    ({"demo": " "}, {}, "demo in [mnistlab] of secrets.toml is set but blank"),
    ({"passcode": ""}, {}, "passcode in [mnistlab] of secrets.toml is set but blank"),
])
def test_blank_settings_close_training_and_say_so(secrets, environ, says):
    rules = config.access(secrets, environ)
    assert not rules.open and rules.passcode is None and says in rules.problem
    assert not rules.unlocks("") and not rules.unlocks(" ")


def test_passcodes_are_compared_whole():
    rules = config.access({}, {"MNISTLAB_PASSCODE": "sésame"})
    assert rules.unlocks("sésame") and rules.unlocks(" sésame\n")
    assert not any(rules.unlocks(given) for given in ("", "sésam", "sésame!", "SÉSAME", "sesame"))
    assert not config.access({}, {"MNISTLAB_DEMO": "1"}).unlocks("")  # no passcode: nothing unlocks
    problem = config.access({"passcode": ["a"]}, {}).problem
    assert problem == "passcode in [mnistlab] of secrets.toml must be text; got a list"


@pytest.mark.parametrize("value, seconds", [("", config.HEARTBEAT_SECONDS), ("30", 30.0), (" 600 ", 600.0)])
def test_the_heartbeat_timeout_comes_from_the_environment(monkeypatch, value, seconds):
    monkeypatch.setenv("MNISTLAB_HEARTBEAT_SECONDS", value)
    assert config.heartbeat_seconds() == seconds


@pytest.mark.parametrize("value", ["5", "0", "-1", "soon", "inf", "nan"])
def test_a_heartbeat_timeout_too_short_to_keep_a_run_alive_is_refused(monkeypatch, value):
    monkeypatch.setenv("MNISTLAB_HEARTBEAT_SECONDS", value)
    with pytest.raises(ValueError, match="MNISTLAB_HEARTBEAT_SECONDS must be a number of seconds from 10"):
        config.heartbeat_seconds()
