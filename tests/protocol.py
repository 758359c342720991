"""A protocol-level visitor: a websocket client that speaks Streamlit's own messages, no browser.

What a modified browser or a short script could send the server; used to check that no such
message can change what other visitors see. Runs its asyncio client in a thread of its own, so
it can be used beside Playwright's sync API (which holds an event loop in the calling thread).
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


def send(url: str, *messages: BackMsg, timeout: float = 30.0) -> list[ForwardMsg]:
    """Open a session on the site at `url`, send `messages`, then one page run, and return what the
    server sent until that run finished (so every message before it has been handled)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _send(url, messages, timeout)).result()


def clear_cache() -> BackMsg:
    """The message any client may send to empty Streamlit's st.cache_data and st.cache_resource."""
    return BackMsg(clear_cache=True)


async def _send(url: str, messages, timeout: float) -> list[ForwardMsg]:
    stream = url.replace("http://", "ws://", 1) + "/_stcore/stream"
    async with websockets.connect(stream, subprotocols=["streamlit"], max_size=None) as ws:
        for message in messages:
            await ws.send(message.SerializeToString())
        run = BackMsg()
        run.rerun_script.query_string = ""
        await ws.send(run.SerializeToString())
        received = []
        async with asyncio.timeout(timeout):
            while True:
                message = ForwardMsg()
                message.ParseFromString(await ws.recv())
                received.append(message)
                # 2 means "cut short by a newer run": keep reading until a run really ends.
                if message.WhichOneof("type") == "script_finished" and message.script_finished != 2:
                    return received
