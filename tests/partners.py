"""Partners stood in by real HTTP servers on loopback: the e-government
system's callback endpoint, which verifies our signature and takes each
Idempotency-Key once, as the interface document asks of it; it can be
stopped and started again on the same port."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from integration.signature import verify
from onemap.stack import free_port


class SignedReceiver:
    """Records every POST (path, key, raw and JSON body, why its signature
    was refused or None) and counts deliveries per key; answers `status`
    with the JSON `answer`."""

    def __init__(self, secret: bytes | None, window_s: float = 300) -> None:
        self.secret, self.window_s = secret, window_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.calls: list[dict] = []
        self.per_key: Counter[str] = Counter()
        self.status = 200  # what a fresh message is answered with, and the JSON answer
        self.answer: dict = {}
        self.server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    def start(self) -> SignedReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Idempotency-Key", "")
                refused = verify(receiver.secret, body, dict(self.headers), receiver.window_s) if receiver.secret else None
                with receiver._lock:
                    json_body = "json" in self.headers.get("Content-Type", "")
                    receiver.calls.append({"path": self.path, "key": key, "raw": body, "refused": refused,
                                           "body": json.loads(body or b"null") if json_body else None})
                    status = 401 if refused else receiver.status
                    if status < 300:
                        receiver.per_key[key] += 1
                answer = json.dumps(receiver.answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_keys(self, keys: set[str], timeout: float = 600) -> None:  # a hang guard, not a time limit
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if keys <= set(self.per_key):
                    return
            time.sleep(0.2)
        raise AssertionError(f"not delivered: {sorted(keys - set(self.per_key))}; got {self.calls[-5:]}")
