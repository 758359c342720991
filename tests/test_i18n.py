"""The site's words in 中文 and English: the catalogs are complete and compiled, and a page shown in
Chinese holds no English sentence."""
import re
from pathlib import Path

import numpy as np
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from google.protobuf.json_format import MessageToDict
from streamlit.testing.v1 import AppTest

from mnistcore import i18n
from mnistcore.explain import gallery
from mnistcore.lab.feedback import FeedbackStore
from sitetools import APP, drawing, shown_html, weights_copy

PROJECT = Path(__file__).resolve().parent.parent
LOCALES = PROJECT / "mnistcore" / "locale"
PLACEHOLDER = re.compile(r"\{(\w*)\}")
CHINESE_PUNCTUATION = "。：，！？）」”、；"


def bold_closed_before_text(text: str) -> bool:
    """Is a **bold** closed after Chinese punctuation and followed at once by text (which Markdown does not see
    as closing it)?"""
    closings = [m.start() for m in re.finditer(r"\*\*", text)][1::2]
    return any(0 < at and text[at - 1] in CHINESE_PUNCTUATION and re.match(r"[\w{]", text[at + 2:at + 3])
               for at in closings)
# A number, then a breakable space, then a Chinese measure word ("{count} 个"): a line may break between them.
MEASURE_AFTER_SPACE = re.compile(r"(?:\}|\d) (?:个|张|轮|秒|分钟|小时|次|位|批|层|天|项|种|步|笔|行|列)")
# Proper names that stay as they are in Chinese text.
NAMES = ["MNIST", "NumPy", "Keras", "CSV", "NPZ", "mnist_train.csv", "PNG", "JPG"]
# Three or more English words in a row. A word glued to digits or a slash ("conv32", "relu/softmax") is part of
# a network's technical name as the model file keeps it ("numpy cnn conv32-conv64-10 relu/softmax"), not a word.
WORD = r"(?<![\w/])[A-Za-z][A-Za-z'’-]*(?![\w/])"
ENGLISH_SENTENCE = re.compile(rf"{WORD}(?:[ ,]+{WORD}){{2,}}")


def catalog(language: str):
    with open(LOCALES / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def source_messages() -> set:
    """Every _(), ngettext() and N_() in our Python, as `make messages` extracts them (babel.cfg)."""
    with open(PROJECT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    return {message[2] for message in extract_from_dir(str(PROJECT), method_map, options_map, keywords=keywords)}


def test_every_word_of_the_code_is_in_both_catalogs():
    found = source_messages()
    assert "Can a computer read your handwriting?" in found and "Look inside" in found
    for language in i18n.LANGUAGES:
        ids = {message.id for message in catalog(language) if message.id}
        assert not found - ids, f"not in the {language} catalog (run make messages): {sorted(found - ids, key=str)}"


def test_every_chinese_message_is_translated_with_the_same_placeholders():
    missing, wrong = [], []
    for message in catalog(i18n.CHINESE):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(ids[0])
        elif any(set(PLACEHOLDER.findall(s)) != set(PLACEHOLDER.findall(ids[0])) for s in strings):
            wrong.append(ids[0])
    assert not missing, f"untranslated in zh_CN: {missing}"
    assert not wrong, f"zh_CN translations whose {{placeholders}} differ from the English: {wrong}"


def test_a_number_stays_on_the_line_of_its_chinese_measure_word():
    """"10,000 个" must not break after the number on a phone: a no-break space, never a plain one, between."""
    broken = [message.id for message in catalog(i18n.CHINESE) if message.id and any(
        MEASURE_AFTER_SPACE.search(s) for s in (message.string if isinstance(message.string, tuple)
                                                else (message.string,)))]
    assert not broken, broken
    assert MEASURE_AFTER_SPACE.search("已标注 {count} 个") and not MEASURE_AFTER_SPACE.search("已标注 {count}\u00a0个")


def test_chinese_bold_text_closes_where_markdown_sees_it_close():
    """Markdown ends **bold** after a "。" or "：" only before a space or punctuation: "**无法下载。**这个" shows its
    asterisks. A space after the closing ** keeps it bold."""
    broken = [message.id for message in catalog(i18n.CHINESE) if message.id and any(
        bold_closed_before_text(s) for s in (message.string if isinstance(message.string, tuple)
                                             else (message.string,)))]
    assert not broken, broken
    assert bold_closed_before_text("**无法下载。**这个") and not bold_closed_before_text("**无法下载。** 这个")
    assert not bold_closed_before_text("预计用时：**{time}**{loading}")  # an opening ** may follow punctuation


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_compiled_catalogs_match_the_po_files(language):
    def pairs(messages):  # what each catalog changes (a compiled plural without msgstr repeats its msgids)
        found = {}
        for m in messages:
            key = tuple(m.id) if isinstance(m.id, (list, tuple)) else m.id
            value = tuple(m.string) if isinstance(m.string, (list, tuple)) else m.string
            if key and value and all(value) and value != key:
                found[key] = value
        return found
    with open(LOCALES / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = pairs(read_mo(mo))
    written = pairs(catalog(language))
    assert compiled == written, "the .mo is older than the .po: run make messages"


def test_words_numbers_and_plurals_follow_the_language():
    try:
        i18n.set_language(i18n.CHINESE)
        assert i18n.gettext("Gallery") == "图库" and i18n.percent(0.9912, 1) == "99.1%"
        accepted = i18n.ngettext("Accepted {count} drawing.", "Accepted {count} drawings.", 1)
        assert accepted == "已接受 {count}\u00a0个手写数字。"
        assert gallery.caption(9, 4, 0.61) == "✗ 4，实为 9 (61%)"
        assert "认错了" in gallery.alt_text(9, 4, 0.61)
        i18n.set_language(i18n.ENGLISH)
        assert i18n.gettext("Gallery") == "Gallery" and i18n.number(10_000) == "10,000"
        assert i18n.ngettext("Accepted {count} drawing.", "Accepted {count} drawings.", 2).endswith("drawings.")
        assert gallery.alt_text(9, 4, 0.61) == "A handwritten 9. The model read 4, 61% sure: a mistake."
    finally:
        i18n.set_language(i18n.ENGLISH)
    assert i18n.closest("zh-TW") == i18n.CHINESE and i18n.closest("en-GB") == i18n.closest(None) == i18n.ENGLISH
    with pytest.raises(ValueError, match="'fr'"):
        i18n.set_language("fr")


def test_text_kept_in_english_is_shown_in_the_visitors_language():
    """Notes and names kept on the shared run board in English, and the class board's recipes, read in Chinese."""
    from dataclasses import asdict

    from mnistcore.lab.classroom import ClassModel
    from mnistcore.lab.model_list import recipe
    from mnistcore.lab.names import anonymous_label, name_problem, shown_name
    from mnistcore.lab.slot.runs import NOTES, PAGE_CLOSED, TIME_LIMIT
    from mnistcore.training import STOP_REASONS, TrainSettings

    note = PAGE_CLOSED.format(seconds="90")
    settings = TrainSettings(epochs=2, hidden=64, robust=True)
    kept = ClassModel("0" * 12, "key", anonymous_label("3F2A"), settings.describe(), 0.9, None, 0, "2026", "f.npz")
    assert kept.label == "Visitor 3F2A" and i18n.restated(note, NOTES) == note  # English as it is kept
    try:
        i18n.set_language(i18n.CHINESE)
        assert i18n.restated(note, NOTES) == "已停止，因为它的页面关闭了（90\u00a0秒没有收到它的消息）。"
        assert i18n.restated(TIME_LIMIT.format(limit="about 12 minutes"), NOTES) == \
            "已停止，因为它超过了这台服务器上训练的时限（约 12\u00a0分钟）。"
        assert i18n.restated("a note of another kind", NOTES) == "a note of another kind"
        reason = STOP_REASONS[1].format(epochs=1, accuracy="10%", advice=STOP_REASONS[4].format(rate="1"))
        assert i18n.restated(reason, STOP_REASONS).endswith(
            "不比瞎猜好。请试试比 1 更小的学习率、更小的动量或更大的批，或者选一个配方。")
        assert shown_name(kept.label) == "访客 3F2A" and shown_name("Ada") == "Ada"
        assert recipe(kept) == kept.recipe  # kept without its settings: as it was kept
        described = recipe(kept.__class__(**{**asdict(kept), "settings": asdict(settings)}))
        assert described.startswith("NumPy relu 神经网络，隐藏层 64\u00a0个神经元") and "适应其他笔迹" in described
        assert not english_sentences([described])
    finally:
        i18n.set_language(i18n.ENGLISH)
    assert name_problem("访客 3F2A") and name_problem("Visitor 7") and name_problem("Ada") is None


# ---------------------------------------------------------------------------- pages in Chinese

SKIP_KEYS = {"id", "formId", "key", "url", "src", "icon", "type", "dataframeKey", "elementId", "fragmentId",
             "pageScriptHash", "page", "urlPath", "format", "fileName", "mime", "componentName", "jsContent",
             "cssContent", "htmlContent"}


def visible_text(at: AppTest) -> list[str]:
    """Every string an AppTest's page shows (bodies, labels, help, captions, alt texts, options)."""
    found = []

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in SKIP_KEYS:
                    walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and value.strip():
            found.append(value)

    def nodes(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from nodes(child)

    for node in nodes(at._tree):
        proto = getattr(node, "proto", None)
        if proto is not None and not isinstance(proto, (str, bytes)) and hasattr(proto, "DESCRIPTOR"):
            walk(MessageToDict(proto))
    return found


def english_sentences(texts: list[str]) -> list[str]:
    """Runs of three or more English words in `texts`, proper names, Markdown and HTML aside."""
    out = []
    for text in texts:
        if ("<" in text and ">" in text) or text.startswith(("{", "[")):  # CSS, scripts, a component's data
            continue
        for name in NAMES:
            text = text.replace(name, " ")
        text = re.sub(r":material/\w+:", " ", text)
        out += ENGLISH_SENTENCE.findall(text)
    return out


def test_the_checker_sees_an_english_sentence():
    assert english_sentences(["每个 MNIST digit", "图库 Only the mistakes here"]) == ["Only the mistakes here"]
    assert english_sentences(["numpy cnn conv32-conv64-10 relu/softmax，1 轮"]) == []  # a network's technical name
    assert english_sentences(["访客 3F2A：Visitor 3F2A is training now"]) == ["is training now"]


@pytest.fixture
def site(tmp_path, monkeypatch, small_mnist):
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(weights_copy(tmp_path / "weights", small_mnist)))
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "lab.db"))

    def open_in(language: str, page: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60)
        at.query_params["lang"] = language
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        return at
    open_in.db = tmp_path / "lab.db"
    return open_in


@pytest.mark.parametrize("page", ["pages/home.py", "pages/gallery.py", "pages/inside.py", "pages/handwriting.py",
                                  "pages/draw.py", "pages/train.py", "pages/board.py"])
def test_a_page_in_chinese_has_no_english_sentence(site, page, monkeypatch):
    at = site(i18n.CHINESE, page)
    texts = visible_text(at)
    assert any(re.search(r"[\u4e00-\u9fff]", text) for text in texts)  # it is Chinese
    assert not english_sentences(texts), english_sentences(texts)
    english = english_sentences(visible_text(site(i18n.ENGLISH, page)))
    assert english, "the same page in English has English sentences (so the check can see them)"


def test_lab_handwriting_with_drawings_in_chinese(site, small_mnist):
    """The page's full state: measured drawings, mistakes in the gallery, held labels with Accept and Reject."""
    (_, _), (x_test, y_test) = small_mnist
    store = FeedbackStore(site.db)
    for k in range(12):
        label = int(y_test[k]) if k % 3 else (int(y_test[k]) + 1) % 10  # every third one labelled wrong
        store.add(x_test[k], label=label, predicted=int(y_test[k]), confidence=0.99 if k < 6 else 0.5, model="m",
                  raw_size=(280, 280), probabilities=np.eye(10)[y_test[k]])
    at = site(i18n.CHINESE, "pages/handwriting.py")
    texts = visible_text(at)
    assert "待审核" in [h.value for h in at.header] and any(b.label == "接受" for b in at.button)
    assert any("模型认作" in alt for image in at.image for alt in image.proto.imgs[0].alt.split("\n"))
    assert not english_sentences(texts), english_sentences(texts)


def test_draw_with_an_answer_in_chinese(site, small_mnist):
    """Draw after a drawing: the answer, its words and the pictures' alternative texts, in Chinese."""
    (_, _), (x_test, y_test) = small_mnist
    at = site(i18n.CHINESE, "pages/draw.py")
    at.session_state["canvas"] = drawing(x_test[0])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = visible_text(at)
    headline = [h.value for h in at.header]
    assert headline and headline[0].startswith("识别结果："), headline
    assert any(b.label.startswith("对，是") for b in at.button)
    html = "\n".join(h for h in shown_html(at, "") if "<figure" in h or "<h2" in h)  # the page's, not its CSS
    assert "模型认为是" in html and 'alt="你的手写' in html  # the steps' alternative texts say what the model read
    assert not english_sentences(texts + [re.sub(r"<[^>]+>", " ", html)]), english_sentences(texts)


def test_train_with_a_finished_run_and_the_board_in_chinese(site, monkeypatch):
    """Train after a run (the result, its curves' words, the tables) and the class board with it, in Chinese."""
    from ui.resources import slot

    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "2000")
    at = site(i18n.CHINESE, "pages/train.py")
    at.number_input(key="epochs").set_value(1)
    at.number_input(key="hidden").set_value(64)
    at.run()
    next(b for b in at.button if b.label == "开始训练").click().run()
    assert slot().wait(60), [m.value for m in list(at.error) + list(at.warning) + list(at.info)]
    at.run()
    assert any(h.value == "你的模型" for h in at.header), [h.value for h in at.header]
    assert not english_sentences(visible_text(at)), [t for t in visible_text(at) if english_sentences([t])]
    board = site(i18n.CHINESE, "pages/board.py")
    assert board.dataframe and not english_sentences(visible_text(board)), english_sentences(visible_text(board))


def test_train_while_running_and_after_stopping_in_chinese(site, monkeypatch):
    """Train while the visitor's run trains (progress, estimate, settings) and after they stop it, in Chinese."""
    from ui.resources import slot

    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")
    at = site(i18n.CHINESE, "pages/train.py")
    for name, value in {"epochs": 3, "hidden": 512, "batch_size": 16}.items():  # a minute or more: it runs as we look
        at.number_input(key=name).set_value(value)
    at.run()
    next(b for b in at.button if b.label == "开始训练").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(b.label == "停止" for b in at.button), [b.label for b in at.button]
    running = visible_text(at)
    assert any("批大小 16" in text for text in running)  # the run's settings, in Chinese
    assert not english_sentences(running), [t for t in running if english_sentences([t])]
    next(b for b in at.button if b.label == "停止").click().run()
    assert slot().wait(120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    stopped = visible_text(at)
    assert any("你停止了训练。" in w.value for w in at.warning), [w.value for w in at.warning]
    assert not english_sentences(stopped), [t for t in stopped if english_sentences([t])]


def test_a_run_that_stopped_itself_in_chinese(site, monkeypatch):
    """A run that learns nothing stops itself: why, and the red result, in Chinese (kept in English on the board)."""
    from ui.resources import slot

    monkeypatch.setenv("MNISTLAB_TRAIN_LIMIT", "300")
    monkeypatch.setattr("ui.visitor.client", lambda: "127.0.0.1")
    at = site(i18n.CHINESE, "pages/train.py")
    for name, value in {"epochs": 1, "batch_size": 1, "hidden": 16, "learning_rate": 1.0, "momentum": 0.99}.items():
        at.number_input(key=name).set_value(value)
    at.run()
    next(b for b in at.button if b.label == "开始训练").click().run()
    assert slot().wait(60)
    at.run()
    errors = " ".join(e.value for e in at.error)
    assert "训练自行停止了" in errors and "不比瞎猜好" in errors and "请试试比 1 更小的学习率" in errors, errors
    texts = visible_text(at)
    assert not english_sentences(texts), [t for t in texts if english_sentences([t])]
