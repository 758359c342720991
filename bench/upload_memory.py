"""Streamlit's upload endpoint under a hostile visitor, on 127.0.0.1 only: the server's memory.

    .venv/bin/python -m bench.upload_memory            # 40 made-up ids, then 20 sessions filling their budget

Prints the server process' resident memory before, its peak, just after the sessions close, and a
minute later. Bounded: 40 PUTs of 9.5 MB to made-up file ids, then 20 sessions each asking for upload
URLs and putting 9.5 MB under each, as many as the server gives. Figures, never pass/fail.
"""
from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT / "tests")]

import protocol  # noqa: E402
from sitetools import running_site, weights_copy  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
from test_hostile import peak_memory_mb, put_file, resident_mb  # noqa: E402

TEN_MB = bytes(9 * 1024 * 1024 + 512 * 1024)  # just under maxUploadSize with the form around it


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="upload-memory-"))
    env = {"MNISTLAB_FEEDBACK_DB": str(folder / "lab.db")}
    with running_site(weights_copy(folder / "weights", None), env=env) as url:
        before = resident_mb(url.pid)
        home = protocol.Visitor(url)
        refused = sum(put_file(url, f"/_stcore/upload_file/{home.session_id}/{uuid.uuid4()}", TEN_MB) != 204
                      for _ in range(40))
        sessions, stored = [], 0
        for _ in range(20):
            visitor = protocol.Visitor(url).open("draw")
            paper = WidgetState(id=visitor.widget_id("button_group", "Read a digit"))
            paper.string_array_value.data.append(":material/photo_camera: Digit on paper")
            visitor.run(paper)
            for _ in range(5):
                urls = visitor.upload_urls("photo.png")
                stored += bool(urls) and put_file(url, urls[0], TEN_MB) == 204
            sessions.append(visitor)
        peak = peak_memory_mb(url.pid)
        for visitor in [home, *sessions]:
            visitor.close()
        time.sleep(2)  # the server closes the sessions
        closed = resident_mb(url.pid)
        time.sleep(60)
        print(f"made-up ids: {refused} of 40 refused; 20 sessions stored {stored} files of 9.5 MB; server memory "
              f"before {before:.0f} MB, peak {peak:.0f} MB, after closing {closed:.0f} MB, "
              f"a minute later {resident_mb(url.pid):.0f} MB")


if __name__ == "__main__":
    main()
