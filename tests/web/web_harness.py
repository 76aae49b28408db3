"""The web app on a loopback port in this process, and a small HTTP client that keeps cookies
and never follows redirects (so tests see the 303s and 403s themselves)."""

from __future__ import annotations

import asyncio
import http.client
import re
import threading
from urllib.parse import urlencode

TOKEN = "web-test-token-0001"
READ_TOKEN = "web-test-read-0001"


class LiveApp:
    """The web app on its own event loop in a thread, on an ephemeral loopback port."""

    def __init__(self, service, tokens) -> None:
        self.service, self.tokens = service, tokens
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        from cashmatch.server.web.app import start_http

        asyncio.set_event_loop(self.loop)
        self.runner, self.port = self.loop.run_until_complete(
            start_http(service=self.service, tokens=self.tokens, port=0)
        )
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def start(self) -> LiveApp:
        self._thread.start()
        assert self._ready.wait(30), "web app did not start"
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)


class Client:
    """HTTP/1.1 to the live app: cookies kept, redirects not followed."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, data: dict | list | None = None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data, doseq=True)
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8", "replace")
        for raw in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "Max-Age=0" in raw or "expires=Thu, 01 Jan 1970" in raw:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        conn.close()
        return resp.status, resp.headers, text

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, data, **kw):
        return self.request("POST", path, data=data, **kw)

    def signin(self, name: str = "alice", token: str = TOKEN):
        status, headers, _ = self.post("/signin", {"name": name, "token": token, "next": "/"})
        assert status == 303, status
        return self

    def csrf(self, path: str = "/exceptions") -> str:
        _, _, body = self.get(path)
        m = re.search(r'name="csrf_token" value="([^"]+)"', body)
        assert m, "no csrf token on the page"
        return m.group(1)
