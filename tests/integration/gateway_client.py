"""A gateway client for the tests of the gateway the relay serves to SDK bots, on Python's `websockets`
(a WebSocket implementation no one here wrote). Blocking calls, each with a timeout, over an asyncio loop that
runs in a thread of its own."""
import asyncio
import json
import threading

import websockets


class GatewayClient:
    def __init__(self, url, max_queue=None, read_limit=2 ** 16):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        async def connect():
            return await websockets.connect(url, open_timeout=10, ping_interval=None, close_timeout=2,
                                            max_size=2 ** 24, max_queue=max_queue, read_limit=read_limit,
                                            compression=None)
        self.ws = self._run(connect())

    def _run(self, coroutine, timeout=20):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def send(self, payload):
        self._run(self.ws.send(json.dumps(payload)))

    def recv_text(self, timeout=10):
        return self._run(asyncio.wait_for(self.ws.recv(), timeout), timeout + 5)

    def recv(self, timeout=10):
        return json.loads(self.recv_text(timeout))

    def identify(self, token, intents, shard=(0, 1)):
        """Hello, Identify, READY; returns READY."""
        hello = self.recv()
        assert hello["op"] == 10, hello
        self.send({"op": 2, "d": {"token": token, "intents": intents, "shard": list(shard),
                                  "properties": {"$os": "linux"}}})
        ready = self.recv()
        assert ready.get("t") == "READY", ready
        return ready

    def resume(self, token, session_id, seq):
        hello = self.recv()
        assert hello["op"] == 10, hello
        self.send({"op": 6, "d": {"token": token, "session_id": session_id, "seq": seq}})

    def until_closed(self, timeout=10):
        """Reads until the server closes; returns (texts read, close code)."""
        texts = []
        try:
            while True:
                texts.append(self.recv_text(timeout))
        except websockets.ConnectionClosed as closed:
            return texts, closed.code

    def close(self):
        if not self.thread.is_alive():
            return
        try:
            self._run(self.ws.close(), 10)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def drop(self):
        """Ends the TCP connection without a close frame, as a crashed client would."""
        self.loop.call_soon_threadsafe(self.ws.transport.abort)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
