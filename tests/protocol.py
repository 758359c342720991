"""A protocol-level visitor: a websocket client that speaks Streamlit's own messages, no browser.

What a modified browser or a short script could send the server, built on Streamlit's protobufs
(`BackMsg` up, `ForwardMsg` down). A `Visitor` is one session: it opens pages by name, sends
widget values (any values, including ones no browser would send), and reads back what the server
drew for it. Its asyncio client runs in a thread of its own, so it works beside Playwright's sync
API and from plain tests alike.
"""
from __future__ import annotations

import asyncio
import json
import threading

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

TEXT_FIELDS = ("body", "label", "message", "stack_trace", "text")


class Visitor:
    """One session on the site at `url` (http://127.0.0.1:PORT)."""

    def __init__(self, url: str, timeout: float = 60.0, cookie: str | None = None, query: str = ""):
        """`cookie`: a browser's Cookie header (e.g. its Streamlit XSRF cookie); `query`: the page
        address' query string (e.g. "visitor=…"), as a link someone sent would carry it."""
        self.url, self.timeout, self.cookie, self.query = url, timeout, cookie, query
        self.pages: dict[str, str] = {}       # page name ("draw", "Train", ...) -> script hash
        self.page_hash = ""
        self.session_id = ""                  # the server's id for this session (its first new_session)
        self.elements: list[tuple[str, object]] = []  # (type, proto) drawn by the last run
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ws = self._call(self._connect())
        self.run()  # the first run: the home page, and the site's navigation

    # ------------------------------------------------------------------ sending

    def open(self, page: str) -> Visitor:
        """Run the page named `page` (as in the URL, e.g. "draw", or its title, e.g. "Draw")."""
        self.page_hash = self.pages[page]
        return self.run()

    def run(self, *widgets: WidgetState) -> Visitor:
        """Rerun the current page with these widget values; waits until the run has finished."""
        message = BackMsg()
        message.rerun_script.query_string = self.query
        message.rerun_script.page_script_hash = self.page_hash
        message.rerun_script.widget_states.widgets.extend(widgets)
        self.elements = self._call(self._exchange(message))
        return self

    def send(self, message: BackMsg) -> Visitor:
        """Send any message, then rerun the page so the message has surely been handled."""
        self._call(self._ws.send(message.SerializeToString()))
        return self.run()

    def upload_urls(self, *names: str) -> list[str]:
        """Ask for upload URLs as an uploader on the page does (a file_urls_request); the paths given."""
        message = BackMsg()
        message.file_urls_request.request_id = "r1"
        message.file_urls_request.file_names.extend(names)
        message.file_urls_request.session_id = self.session_id
        return self._call(self._file_urls(message))

    def close(self) -> None:
        self._call(self._ws.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ------------------------------------------------------------------ reading what was drawn

    def text(self) -> str:
        """Every piece of text the last run showed (markdown, alerts, labels, errors), one per line."""
        lines = []
        for _, proto in self.elements:
            lines += [str(getattr(proto, name)) for name in TEXT_FIELDS
                      if hasattr(proto, name) and getattr(proto, name)]
        return "\n".join(lines)

    def of_type(self, kind: str) -> list:
        return [proto for type_, proto in self.elements if type_ == kind]

    def widget_id(self, kind: str, label_starts: str = "") -> str:
        """The id of the first widget of this kind whose label starts so; KeyError if none."""
        for proto in self.of_type(kind):
            if getattr(proto, "label", "").startswith(label_starts):
                return proto.id
        raise KeyError(f"no {kind} labelled {label_starts!r}… in: {self.text()[:2000]}")

    # ------------------------------------------------------------------ the websocket

    async def _connect(self):
        return await websockets.connect(self.url.replace("http://", "ws://", 1) + "/_stcore/stream",
                                        subprotocols=["streamlit"], max_size=None,
                                        additional_headers={"Cookie": self.cookie} if self.cookie else None)

    def _call(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(self.timeout)

    async def _file_urls(self, message: BackMsg) -> list[str]:
        await self._ws.send(message.SerializeToString())
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await self._ws.recv())
            if reply.WhichOneof("type") == "file_urls_response":
                return [info.upload_url for info in reply.file_urls_response.file_urls]

    async def _exchange(self, message: BackMsg) -> list[tuple[str, object]]:
        await self._ws.send(message.SerializeToString())
        elements = []
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await self._ws.recv())
            kind = reply.WhichOneof("type")
            if kind == "new_session" and not self.session_id:
                self.session_id = reply.new_session.initialize.session_id
            elif kind == "navigation":
                for page in reply.navigation.app_pages:
                    self.pages[page.page_name] = page.page_script_hash
                    self.pages[page.url_pathname or page.page_name] = page.page_script_hash
            elif kind == "delta" and reply.delta.WhichOneof("type") == "new_element":
                element = reply.delta.new_element
                type_ = element.WhichOneof("type")
                elements.append((type_, getattr(element, type_)))
            # 2 means "cut short by a newer run" (e.g. st.rerun): keep reading until a run ends.
            elif kind == "script_finished" and reply.script_finished != 2:
                return elements


# ---------------------------------------------------------------------------- widget values


def click(widget_id: str) -> WidgetState:
    return WidgetState(id=widget_id, trigger_value=True)


def text(widget_id: str, value: str) -> WidgetState:
    return WidgetState(id=widget_id, string_value=value)


def number(widget_id: str, value: int | float) -> WidgetState:
    """A number input's value: whole numbers as Streamlit sends them for int inputs, others as doubles."""
    if isinstance(value, float):
        return WidgetState(id=widget_id, double_value=value)
    return WidgetState(id=widget_id, int_value=value)


def component(widget_id: str, value: object) -> WidgetState:
    """A custom component's value (the canvas'), as JSON: whatever `value` is."""
    return WidgetState(id=widget_id, json_value=json.dumps(value))


def clear_cache() -> BackMsg:
    """The message any client may send to empty Streamlit's st.cache_data and st.cache_resource."""
    return BackMsg(clear_cache=True)


def send(url: str, *messages: BackMsg) -> None:
    """Open a session on the site at `url`, send `messages`, and make sure they were handled."""
    visitor = Visitor(url)
    try:
        for message in messages:
            visitor.send(message)
    finally:
        visitor.close()
