"""HTTP fakes that speak each provider's protocol on localhost (stdlib http.server).

Addresses script the answer: ``busy`` → 429, ``boom`` → 503, ``bad`` / ``dead`` / ``blocked``
/ ``gone`` → the provider's permanent refusal of that address; anything else succeeds. Every
request is recorded; the Twilio and webhook fakes deduplicate on the idempotency key.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from cvm.channels.http_common import sign_body

SID, TOKEN, BEARER, BOT, SECRET = "AC123", "twilio-token", "fcm-token", "bot42", "hook-secret"


@dataclass
class FakeState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    seen_keys: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def _reply(
            self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None
        ) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": raw}
                )
            if m := re.fullmatch(r"/2010-04-01/Accounts/(\w+)/Messages\.json", self.path):
                return self._twilio(m.group(1), raw)
            if re.fullmatch(r"/v1/projects/[\w-]+/messages:send", self.path):
                return self._fcm(raw)
            if m := re.fullmatch(r"/bot([^/]+)/sendMessage", self.path):
                return self._telegram(m.group(1), raw)
            if self.path == "/hook":
                return self._webhook(raw)
            return self._reply(404, {"error": "no such endpoint"})

        def _twilio(self, sid: str, raw: bytes) -> None:
            expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
            if sid != SID or self.headers.get("Authorization") != expected:
                return self._reply(401, {"code": 20003, "message": "Authenticate"})
            form = dict(parse_qsl(raw.decode()))
            to = form.get("To", "")
            if to == "busy":
                return self._reply(429, {"code": 20429, "message": "Too Many Requests"})
            if to == "boom":
                return self._reply(503, {"message": "unavailable"})
            if to == "bad":
                return self._reply(400, {"code": 21211, "message": "Invalid 'To' Phone Number"})
            key = self.headers.get("I-Twilio-Idempotency-Token", "")
            with state.lock:
                sid_out = state.seen_keys.setdefault(key, f"SM{len(state.seen_keys):032d}")
            return self._reply(201, {"sid": sid_out, "status": "queued", "to": to})

        def _fcm(self, raw: bytes) -> None:
            if self.headers.get("Authorization") != f"Bearer {BEARER}":
                return self._reply(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            token = json.loads(raw)["message"]["token"]
            if token == "busy":
                return self._reply(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})
            if token == "boom":
                return self._reply(503, {"error": {"code": 503, "status": "UNAVAILABLE"}})
            if token == "dead":
                return self._reply(404, {"error": {"code": 404, "status": "NOT_FOUND",
                                                   "details": [{"errorCode": "UNREGISTERED"}]}})  # fmt: skip
            return self._reply(200, {"name": f"projects/p/messages/{len(state.requests)}"})

        def _telegram(self, token: str, raw: bytes) -> None:
            if token != BOT:
                return self._reply(
                    401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
                )
            chat = str(json.loads(raw)["chat_id"])
            if chat == "flood":
                return self._reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                         "parameters": {"retry_after": 3}})  # fmt: skip
            if chat == "blocked":
                return self._reply(403, {"ok": False, "error_code": 403,
                                         "description": "Forbidden: bot was blocked by the user"})  # fmt: skip
            return self._reply(
                200, {"ok": True, "result": {"message_id": 1000 + len(state.requests)}}
            )

        def _webhook(self, raw: bytes) -> None:
            if self.headers.get("X-Cvm-Signature") != sign_body(SECRET, raw):
                return self._reply(401, {"error": "bad signature"})
            to = json.loads(raw)["to"]
            if to == "boom":
                return self._reply(503, {"error": "down"})
            if to == "gone":
                return self._reply(410, {"error": "no such subscriber"})
            key = self.headers.get("Idempotency-Key", "")
            with state.lock:
                pid = state.seen_keys.setdefault(key, f"wa-{len(state.seen_keys)}")
            return self._reply(200, {"id": pid})

    return Handler


@contextmanager
def provider_fake() -> Iterator[tuple[str, FakeState]]:
    state = FakeState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
