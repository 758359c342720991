"""Six visitors sending decompression-heavy photos to Draw at once, on 127.0.0.1 only: the server's memory.

    .venv/bin/python -m bench.photo_memory

Each of six sessions on Draw's "Digit on paper" uploads a photo through Streamlit's own upload
endpoint (an upload URL asked for as the page's uploader does), then all six rerun the page at the
same moment with the photo as the uploader's value. Photos: 16-bit grey PNGs of 3400 x 2300 (16 KB
to send) and 6000 x 4166 (50 KB, over the PNG budget), and a lossless WebP of 2800 x 2800 (370 B).
Prints the server's resident memory before, its peak, and a minute after. Figures, never pass/fail.
"""
from __future__ import annotations

import io
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT / "tests")]

import protocol  # noqa: E402
from sitetools import running_site, weights_copy  # noqa: E402
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo  # noqa: E402
from streamlit.proto.WidgetStates_pb2 import WidgetState  # noqa: E402
from test_hostile import peak_memory_mb, put_file, resident_mb  # noqa: E402


def photo(kind: str, width: int, height: int) -> bytes:
    if kind == "png16":
        pixels = np.zeros((height, width), np.uint16)
        pixels[height // 3: height // 2, width // 3: width // 2] = 65535
    else:
        pixels = np.zeros((height, width, 4), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="WEBP" if kind == "webp" else "PNG", lossless=True)
    return buffer.getvalue()


def main() -> None:
    photos = [photo("png16", 3400, 2300), photo("png16", 6000, 4166), photo("webp", 2800, 2800)] * 2
    folder = Path(tempfile.mkdtemp(prefix="photo-memory-"))
    env = {"MNISTLAB_FEEDBACK_DB": str(folder / "lab.db")}
    with running_site(weights_copy(folder / "weights", None), env=env) as url:
        visitors, values = [], []
        for data in photos:
            visitor = protocol.Visitor(url, timeout=120).open("draw")
            paper = WidgetState(id=visitor.widget_id("button_group", "Read a digit"))
            paper.string_array_value.data.append(":material/photo_camera: Digit on paper")
            visitor.run(paper)
            upload = visitor.upload_urls("photo.png")[0]
            assert put_file(url, upload, data) == 204
            state = WidgetState(id=visitor.widget_id("file_uploader"))
            state.file_uploader_state_value.uploaded_file_info.append(UploadedFileInfo(
                name="photo.png", size=len(data), file_id=upload.rsplit("/", 1)[1],
                file_urls=FileURLs(file_id=upload.rsplit("/", 1)[1], upload_url=upload, delete_url=upload)))
            visitors.append(visitor)
            values.append((paper, state))
        before = resident_mb(url.pid)
        start = threading.Barrier(len(visitors))
        answers = [""] * len(visitors)

        def send(n: int) -> None:
            start.wait()
            answers[n] = visitors[n].run(*values[n]).text()

        threads = [threading.Thread(target=send, args=(n,)) for n in range(len(visitors))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = peak_memory_mb(url.pid)
        for visitor in visitors:
            visitor.close()
        time.sleep(60)
        said = [next((line for line in text.splitlines() if "pixels" in line or "found" in line), "read")[:90]
                for text in answers]
        print("\n".join(said))
        print(f"server memory with six sessions open {before:.0f} MB, peak {peak:.0f} MB, "
              f"a minute after {resident_mb(url.pid):.0f} MB")


if __name__ == "__main__":
    main()
