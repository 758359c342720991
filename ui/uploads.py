"""Photo uploads: taken only from a page that shows an uploader, and only so many per visit.

Streamlit's upload endpoint (PUT /_stcore/upload_file/<session>/<file id>) hands every file a live
session sends, under any file id, to the server's UploadedFileManager, which keeps it in memory for
the session's life. A browser only uploads to a URL the server gave it (a file_urls_request, sent
by an uploader on its page), so that manager is given the rules here: upload URLs only for a
session whose page has shown an uploader, UPLOADS_PER_SESSION at most; files only under a file id
issued to that session, each id once; at most FILES_HELD files per session (a new one replaces the
oldest) and HELD_BYTES in all.

Streamlit has no setting to supply a manager of one's own (its Server makes a
MemoryUploadedFileManager itself), and its upload routes and sessions all hold that one object;
so `install` gives that object these rules in place (its class becomes `GuardedUploads`, a
subclass), once per process, before any session can know its own id. Streamlit's endpoint reads a
file (within server.maxUploadSize) before handing it over: a refused file costs one request's
memory for a moment, never more.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from starlette.exceptions import HTTPException
from streamlit.runtime import Runtime
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

UPLOADS_PER_SESSION = 30          # upload URLs one session may ask for (one per photo tried)
FILES_HELD = 2                    # files one session may hold: the camera's photo and the uploaded one
HELD_BYTES = 100 * 1024 * 1024    # bytes all sessions of a process may hold together
MAX_SESSIONS = 10_000             # sessions remembered as showing an uploader


class GuardedUploads(MemoryUploadedFileManager):
    """Streamlit's in-memory manager, taking files only under ids it issued to pages with an uploader."""

    def _guard(self) -> None:
        self._rules = threading.Lock()
        self._shown: OrderedDict[str, int] = OrderedDict()  # session -> upload URLs issued so far
        self._issued: dict[str, set[str]] = {}             # session -> file ids issued, not yet stored

    def show(self, session_id: str) -> None:
        """This session's page shows an uploader: it may ask for upload URLs."""
        with self._rules:
            self._shown[session_id] = self._shown.pop(session_id, 0)
            while len(self._shown) > MAX_SESSIONS:
                old, _ = self._shown.popitem(last=False)
                self._issued.pop(old, None)

    def get_upload_urls(self, session_id, file_names):
        with self._rules:
            issued = self._shown.get(session_id)
            if issued is None or issued + len(file_names) > UPLOADS_PER_SESSION:
                return []  # the browser's uploader shows an error; nothing is stored
            self._shown[session_id] = issued + len(file_names)
            urls = super().get_upload_urls(session_id, file_names)
            self._issued.setdefault(session_id, set()).update(url.file_id for url in urls)
            return urls

    def add_file(self, session_id, file) -> None:
        with self._rules:
            if file.file_id not in self._issued.get(session_id, ()):
                raise HTTPException(status_code=403, detail="No upload was asked for under this id")
            if self._total_bytes + len(file.data) > HELD_BYTES:
                raise HTTPException(status_code=503, detail="The server holds too many uploads: try again soon")
            self._issued[session_id].discard(file.file_id)
            held = list(self.file_storage.get(session_id, {}))
        for old in held[: max(0, len(held) - FILES_HELD + 1)]:  # the oldest make room: a photo replaced
            self.remove_file(session_id, old)
        super().add_file(session_id, file)

    def remove_session_files(self, session_id: str) -> None:
        with self._rules:
            self._shown.pop(session_id, None)
            self._issued.pop(session_id, None)
        super().remove_session_files(session_id)


_install_lock = threading.Lock()


def install() -> None:
    """Give this process' UploadedFileManager the rules above (once; later calls do nothing)."""
    if not Runtime.exists():
        return  # a bare script run or AppTest: no server, no upload endpoint
    manager = Runtime.instance().uploaded_file_mgr
    with _install_lock:
        if type(manager) is MemoryUploadedFileManager:
            with manager._lock:
                manager.__class__ = GuardedUploads
                manager._guard()


def uploader_shown() -> None:
    """Say that this run's page shows an uploader (call it beside st.file_uploader / st.camera_input)."""
    ctx = get_script_run_ctx()
    if ctx is None or not Runtime.exists():
        return
    manager = Runtime.instance().uploaded_file_mgr
    if isinstance(manager, GuardedUploads):
        manager.show(ctx.session_id)
