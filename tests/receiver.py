"""A partner's callback endpoint stood in by a real HTTP server on loopback
(the e-government system receiving subscriber callbacks)."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """The e-government system's callback endpoint: records every POST."""

    def __init__(self) -> None:
        calls: queue.Queue = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                calls.put((self.path, json.loads(body or b"null")))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.calls = calls
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, path: str, timeout: float = 600) -> dict:  # a hang guard, not a time limit
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                got, body = self.calls.get(timeout=1)
            except queue.Empty:
                continue
            seen.append(got)
            if got == path:
                return body
        raise AssertionError(f"no callback to {path}; got {seen}")
