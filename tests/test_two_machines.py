"""Two machines of one lab on one host: two server processes, each with its own empty local folders
(model store, SQLite files, timings), sharing nothing but PostgreSQL (a real server). What one does,
the other sees: the live model, the training slot and its queue, the lab's drawings, the class
board; a machine killed mid-run gives its slot up to the other; and a visitor's budgets (labelled
drawings, passcode guesses) are counted once, whichever machine they are on."""
import contextlib
import os
import signal
from dataclasses import replace

import numpy as np
import pytest
from streamlit.web.server.starlette.starlette_app_utils import generate_xsrf_token_string

import protocol
from mnistcore.lab import config
from mnistcore.lab.pg.classroom import PgClassBoard
from mnistcore.lab.pg.feedback import PgFeedbackStore
from mnistcore.lab.pg.store import PgModelStore
from mnistcore.lab.slot import book
from sitetools import running_site, tiny_model, weights_copy
from test_hostile import CANVAS, guess, numbered_drawing
from test_processes import answer, banner, buttons, serve_lab, start_slow_run, wait_until


def machine_env(tmp_path, name: str, url: str, small_mnist, **more: str) -> tuple:
    """(weights folder, environment) of one machine: its own folders, the lab's database (and `more`)."""
    folder = tmp_path / name
    weights = weights_copy(folder / "weights", small_mnist)
    env = {**more, config.DATABASE_ENV: url, "MNISTLAB_TRAIN_LIMIT": "2000",
           "MNISTLAB_FEEDBACK_DB": str(folder / "lab.db"), "MNISTLAB_SLOT_DB": str(folder / "slot.db"),
           "MNISTLAB_LIMITS_DB": str(folder / "limits.db"), "MNISTLAB_TIMINGS": str(folder / "timings.json")}
    return weights, env


@pytest.fixture
def two_machines(pg_url, tmp_path, small_mnist):
    (weights_a, env_a), (weights_b, env_b) = (machine_env(tmp_path, name, pg_url, small_mnist) for name in ("a", "b"))
    with running_site(weights_a, env=env_a, timeout=90) as a, running_site(weights_b, env=env_b, timeout=90) as b:
        yield (a, weights_a), (b, weights_b)


def test_a_publish_and_a_drawing_on_one_machine_are_served_by_the_other(two_machines, pg_url, small_mnist):
    (a, weights_a), (b, weights_b) = two_machines
    viewer = protocol.Visitor(b).open("draw")
    assert "the shipped model" in banner(viewer)
    # A process of machine A publishes (this test's own process, with A's folder).
    store = PgModelStore(pg_url, weights_a)
    try:
        published = store.publish(tiny_model(small_mnist, hidden=32, samples=3000))
    finally:
        store.close()
    wait_until(lambda: "trained and published here" in banner(viewer.run()), 2)
    assert published.info.summary() in [p.help for p in viewer.of_type("markdown") if "Live model" in p.body]
    assert (weights_b / "runs" / published.name).is_file()  # fetched from the database into B's cache
    viewer.close()
    # A drawing labelled on A counts on B's Lab handwriting page.
    PgFeedbackStore(pg_url).add(np.zeros((28, 28), np.uint8), label=1, predicted=1, confidence=0.9,
                                model="m", raw_size=(280, 280))
    reader = protocol.Visitor(b).open("handwriting")
    assert "Measured on 1 drawing the live model did not train on" in reader.text()
    reader.close()
    # A model kept for its owner on A is on B's class board.
    kept = tiny_model(small_mnist, hidden=16, samples=500)
    kept.info = replace(kept.info, test_accuracy=0.8)
    board = PgClassBoard(pg_url, weights_a / "class", listen=False)
    board.add("abcdefabcdef", "key-ada", "Ada Lovelace", "a recipe", kept, "2026-12-04T10:00:00+00:00")
    looker = protocol.Visitor(b).open("board")
    assert any(b"Ada Lovelace" in table.arrow_data.data for table in looker.of_type("dataframe"))  # its rows
    looker.close()


def test_a_run_on_one_machine_holds_the_slot_until_that_machine_dies(two_machines):
    (a, _), (b, _) = two_machines
    ada = protocol.Visitor(a).open("train")
    start_slow_run(ada)
    assert "Your model is training" in ada.text()
    grace = protocol.Visitor(b).open("train")  # a visitor on the other machine sees A's run
    assert "is training a model" in grace.text()
    assert "Join the queue" in buttons(grace) and "Start training" not in buttons(grace)
    grace.run(protocol.click(grace.widget_id("button", "Join the queue")))
    assert "You are number 1 in the queue" in grace.text()
    assert "Waiting (1 of 5 places taken)" in ada.run().text()  # A shows B's queue
    os.kill(a.pid, signal.SIGKILL)  # machine A dies mid-run
    # B gives A's run up once A has been silent PROCESS_TIMEOUT seconds, and trains Grace's.
    wait_until(lambda: any(w in grace.run().text() for w in ("Your model is training", "Test accuracy")),
               book.PROCESS_TIMEOUT + 2 * book.BEAT_SECONDS + 10)
    grace.close()


def test_one_nginx_in_front_of_both_machines(pg_url, tmp_path, small_mnist):
    (weights_a, env_a), (weights_b, env_b) = (machine_env(tmp_path, name, pg_url, small_mnist) for name in ("a", "b"))
    with contextlib.ExitStack() as stack:
        machine_b = stack.enter_context(running_site(weights_b, env=env_b, timeout=90)).removeprefix("http://")
        env = {"STATE": tmp_path / "state", "ENV": {**env_a, "MNISTLAB_WEIGHTS_DIR": str(weights_a)}}
        url, _, state = stack.enter_context(serve_lab(1, env, "--process-header", "--upstream", machine_b))
        upstreams = [line.split()[1].rstrip(";") for line in (state / "nginx.conf").read_text().splitlines()
                     if line.strip().startswith("server ") and ":" in line]
        assert len(upstreams) == 2 and machine_b in upstreams
        # New browsers are spread over both machines (all 30 on one: 2 in a billion).
        assert {answer(f"{url}/_stcore/health")[1] for _ in range(30)} == set(upstreams)
        visitor = protocol.Visitor(url).open("draw")  # a page through the one nginx
        assert "Live model" in banner(visitor)
        visitor.close()


def test_a_visitors_budgets_hold_across_both_machines(pg_url, tmp_path, small_mnist):
    # One browser (one cookie) whose requests land on both machines; machines behind one nginx share
    # the cookie secret, so they name the browser alike.
    shared = {"MNISTLAB_DRAWINGS_PER_MINUTE": "2", "MNISTLAB_PASSCODE": "correct horse battery staple",
              "STREAMLIT_SERVER_COOKIE_SECRET": generate_xsrf_token_string()}
    (weights_a, env_a), (weights_b, env_b) = (machine_env(tmp_path, name, pg_url, small_mnist, **shared)
                                              for name in ("a", "b"))
    cookie = f"_streamlit_xsrf={generate_xsrf_token_string()}"
    with running_site(weights_a, env=env_a, timeout=90) as a, running_site(weights_b, env=env_b, timeout=90) as b:
        saved = []
        for n, url in enumerate((a, a, b)):  # two labelled drawings a minute for this browser: the third waits
            visitor = protocol.Visitor(url, cookie=cookie).open("draw")
            canvas = next(c.id for c in visitor.of_type(CANVAS)
                          if "drawable_canvas" in c.component_name)
            value = protocol.component(canvas, numbered_drawing(n))
            visitor.run(value)
            visitor.run(value, protocol.click(visitor.widget_id("button", "Yes, it's a")))
            saved.append("please wait" not in visitor.text())
            visitor.close()
        assert saved == [True, True, False] and PgFeedbackStore(pg_url).count() == 2
        # Ten wrong passcodes an hour per device, counted once: the guesses alternate between A and B.
        guessers = [protocol.Visitor(url, cookie=cookie).open("train") for url in (a, b)]
        outcomes = [guess(guessers[n % 2], f"guess {n}") for n in range(12)]
        checked = ["not the passcode" in shown for shown in outcomes]
        assert checked == [True] * 10 + [False] * 2
        assert all("Too many wrong passcodes" in shown for shown in outcomes[10:])
        for visitor in guessers:
            visitor.close()
