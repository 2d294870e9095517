"""The Vendor API under attack: a real `msp-tui serve` subprocess over loopback, each attack
bounded in count and time, and a normal vendor client answered within 1 s throughout."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.sandbox.mailprotector import VENDOR_KEY, gradient_token
from serve_process import Served, api_client, rejection, start_serve, stop_serve

NORMAL_S = 1.0  # a normal client's answer, whatever else is going on


@pytest.fixture
def served(db_path: Path, partner_key: str) -> Iterator[Served]:
    s = start_serve(db_path, "--rate-limit", "0")
    yield s
    stop_serve(s)


class NormalClient:
    """A vendor checking its connection every 0.1 s from a thread, timing each answer."""

    def __init__(self, served: Served, partner_key: str) -> None:
        self.client = api_client(served, partner_key, timeout=10)
        self.latencies: list[float] = []
        self.started: list[float] = []  # when each request was sent (time.monotonic)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.started.append(time.monotonic())
            started = time.perf_counter()
            try:
                status = self.client.get("/organization").status_code
                if status != 200:
                    self.failures.append(str(status))
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
            self.latencies.append(time.perf_counter() - started)
            self._stop.wait(0.1)

    def __enter__(self) -> NormalClient:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self.client.close()

    def check(self, least: int = 1) -> None:
        assert not self.failures, self.failures
        assert len(self.latencies) >= least, self.latencies
        assert max(self.latencies) < NORMAL_S, sorted(self.latencies)[-5:]


def raw_connection(served: Served) -> socket.socket:
    host, port = served.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=30)


def read_response(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of a response that closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


def rss_kib(served: Served) -> int:
    status = Path(f"/proc/{served.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def test_oversized_headers_are_431_and_cost_nothing(served: Served, partner_key: str) -> None:
    before = rss_kib(served)
    with NormalClient(served, partner_key) as normal:
        for _ in range(8):
            sock = raw_connection(served)
            sock.sendall(b"GET /api/vendor-api/organization HTTP/1.1\r\nHost: x\r\n")
            sock.sendall(b"GRADIENT-TOKEN: ")
            refused = False
            try:
                for _ in range(64):  # up to 4 MiB of one header, 64 KiB at a time
                    sock.sendall(b"A" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                refused = True  # closed on us, as it should be, mid-send
            if not refused:
                status, body = read_response(sock)
                assert status == 431 and body["statusCode"] == 431
            sock.close()
    normal.check()
    assert rss_kib(served) - before < 20 * 1024  # not the 8 x 4 MiB sent


def test_a_431_answer_is_json(served: Served) -> None:
    sock = raw_connection(served)
    sock.sendall(b"GET /api/vendor-api HTTP/1.1\r\nHost: x\r\nX-Big: " + b"B" * 20000 + b"\r\n\r\n")
    assert read_response(sock) == (
        431, {"statusCode": 431, "message": "Request headers too large: the limit is 16 KiB"}
    )  # fmt: skip
    sock.close()


def test_slow_headers_time_out_and_never_hold_others_up(served: Served, partner_key: str) -> None:
    slow = []
    for _ in range(50):
        sock = raw_connection(served)
        sock.sendall(b"GET /api/vendor-api/organization HTTP/1.1\r\nHost: x\r\n")  # and no more
        slow.append(sock)
    with NormalClient(served, partner_key) as normal:
        started = time.monotonic()
        answers = [read_response(sock) for sock in slow]  # each ends when the server gives up
        waited = time.monotonic() - started
    normal.check()
    assert {status for status, _ in answers} == {408}
    assert waited < 20, waited  # the header timeout is 10 s
    for sock in slow:
        sock.close()


def test_connections_past_the_cap_get_503(db_path: Path, partner_key: str) -> None:
    served = start_serve(db_path, "--max-connections", "20")
    idle = [raw_connection(served) for _ in range(20)]
    try:
        with api_client(served, partner_key) as api:
            rejection(api.get("/organization"), 503, "Too many connections: try again shortly")
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 30
        while True:  # the server notices the closed connections
            with api_client(served, partner_key) as api:
                if api.get("/organization").status_code == 200:
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop_serve(served)


def test_a_malformed_request_is_json_400(served: Served) -> None:
    sock = raw_connection(served)
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
    assert read_response(sock) == (400, {"statusCode": 400, "message": "Malformed HTTP request"})
    sock.close()


def test_a_chunked_body_over_1_mib_is_413(served: Served, partner_key: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"["
        for n in range(20_000):
            yield json.dumps({"id": f"a{n}", "name": "x" * 40}).encode() + b","
        yield b'{"id": "last", "name": "x"}]'

    with api_client(served, partner_key) as api:
        response = api.post("/organization/accounts", content=chunks(),
                            headers={"content-type": "application/json"})  # fmt: skip
        rejection(response, 413, "Payload too large: the limit is 1 MiB")
        assert api.get("/organization/accounts").json() == []


def test_a_40_000_account_post_keeps_others_answered(served: Served, partner_key: str) -> None:
    accounts = [{"id": n, "name": "A"} for n in range(40_000)]
    body = json.dumps(accounts, separators=(",", ":")).encode()
    assert len(body) < 1024 * 1024
    with NormalClient(served, partner_key) as normal, api_client(served, partner_key) as api:
        started = time.monotonic()
        posted = api.post("/organization/accounts", content=body,
                          headers={"content-type": "application/json"})  # fmt: skip
        ended = time.monotonic()
    assert posted.status_code == 201, posted.text
    assert len(posted.json()) == 40_000
    during = [t for t in normal.started if started <= t <= ended]
    assert len(during) >= 2, (ended - started, normal.started)  # it was measured meanwhile
    normal.check()


def hold_write_lock(db_path: Path, seconds: float) -> subprocess.Popen:
    """Another process (a cron'd sync, say) holding the store's write lock."""
    script = (
        "import sqlite3, sys, time\n"
        "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "db.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
        "db.execute('ROLLBACK')\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(db_path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "locked"
    return holder


@pytest.mark.sqlite_only  # the lock held is SQLite's; PostgreSQL locks rows, not the store
def test_a_40_s_write_lock_elsewhere_is_503_for_writes_not_a_stall(
    served: Served, partner_key: str, db_path: Path
) -> None:
    with api_client(served, partner_key) as api:
        api.post("/organization/accounts", json=[{"id": "a1", "name": "Acme"}])
        api.post("/organization/services", json=[{"id": "s1", "name": "CloudFilter"}])
    holder = hold_write_lock(db_path, 40)
    try:
        with NormalClient(served, partner_key) as normal, api_client(served, partner_key) as api:
            started = time.monotonic()
            busy = api.post("/service/s1/count", json={"accountId": "a1", "unitCount": 3})
            took = time.monotonic() - started
            rejection(busy, 503, "The store is busy: try again shortly")
            assert int(busy.headers["Retry-After"]) >= 1
            assert took < 15, took  # its turn (5 s) plus SQLite's wait (5 s) at most
            assert api.get("/organization/accounts").json()[0]["id"] == "a1"  # reads go on
            assert holder.wait(timeout=60) == 0  # the lock is let go after 40 s
            counted = api.post("/service/s1/count", json={"accountId": "a1", "unitCount": 3})
            assert counted.status_code == 201, counted.text
        normal.check(least=40)
    finally:
        holder.kill()


def test_failed_authentications_are_limited_per_address(served: Served, partner_key: str) -> None:
    variants = {
        "missing": {},
        "not base64": {"GRADIENT-TOKEN": "not base64!"},
        "no colon": {"GRADIENT-TOKEN": "bm9jb2xvbg=="},
        "unknown key": {"GRADIENT-TOKEN": gradient_token(VENDOR_KEY, "msptui_" + "x" * 43)},
    }
    with api_client(served, partner_key) as api:
        assert api.get("/organization").status_code == 200  # pins the vendor key
        messages = {
            api.get("/organization", headers={"GRADIENT-TOKEN": ""} | v).json()["message"]
            for v in variants.values()
        }
        other_vendor = gradient_token("another-vendor", partner_key)
        messages.add(api.get("/organization", headers={"GRADIENT-TOKEN": other_vendor})
                     .json()["message"])  # fmt: skip
        assert len(messages) == 1, messages  # nothing tells a caller which part was wrong
        statuses = [api.get("/organization", headers=variants["unknown key"]).status_code
                    for _ in range(30)]  # fmt: skip
        assert 401 in statuses and statuses[-1] == 429
        limited = api.get("/organization")  # the same address, a good key: still held off
        rejection(limited, 429, "Too many failed authentications: try again later")
        assert int(limited.headers["Retry-After"]) >= 1
        # Another client address (as a reverse proxy on 127.0.0.1 reports it) is not affected,
        # and successful authentications are never counted.
        elsewhere = {"X-Forwarded-For": "192.0.2.7"}
        assert all(api.get("/organization", headers=elsewhere).status_code == 200
                   for _ in range(100))  # fmt: skip


def test_untrusted_text_dates_and_ids(served: Served, partner_key: str, db_path: Path) -> None:
    with api_client(served, partner_key) as api:
        accounts = "/organization/accounts"
        for bad in ("Acme\x00", "Acme\x1b]0;PWNED\x07", "Acme\u009b", "Acme\x7f", "A\tB", "A\nB"):
            rejection(api.post(accounts, json=[{"id": "a1", "name": bad}]), 400,
                      "0.name: control characters are not allowed")  # fmt: skip
        rejection(api.post(accounts, json=[{"id": "a\x00", "name": "Acme"}]), 400)
        rejection(api.post(accounts, json=[{"id": "", "name": "Acme"}]), 400)
        rejection(api.post(accounts, json=[{"id": "a" * 256, "name": "Acme"}]), 400)
        rejection(api.post(accounts, json=[{"id": "a1", "name": "A" * 256}]), 400)
        rejection(api.get(accounts, params={"accountIds[]": "a\x00"}), 400)
        rejection(api.get("/organization/accounts/a1"), 405)  # no GET of one account
        rejection(api.patch(f"{accounts}/a%00", json={"name": "x"}), 400)
        # the same id twice in one batch: accepted, the last one wins
        twice = [{"id": "a1", "name": "First"}, {"id": "a2", "name": "Other"},
                 {"id": "a1", "name": "Last", "description": "line one\n\tline two"}]  # fmt: skip
        assert api.post(accounts, json=twice).status_code == 201
        stored = {a["id"]: a for a in api.get(accounts).json()}
        assert stored["a1"]["name"] == "Last" and len(stored) == 2
        assert stored["a1"]["description"] == "line one\n\tline two"  # allowed in descriptions
        services = [{"id": "s1", "name": "CloudFilter"}, {"id": "s1", "name": "CloudMail"}]
        assert api.post("/organization/services", json=services).status_code == 201
        assert [s["name"] for s in api.get("").json()["data"]["skus"]] == ["CloudMail"]

        alert = "/alerting/a1"
        late = {"title": "Disk full", "dueDateTime": "9999-12-31T23:59:59-12:00"}
        rejection(api.post(alert, json=late), 400, "dueDateTime: dueDateTime is out of range")
        rejection(api.post(alert, json={"title": "x", "description": "a\x00b"}), 400)
        rejection(api.post(alert, json={"title": "x", "alertId": ""}), 400)
        first = api.post(alert, json={"title": "Disk full", "alertId": 0})
        assert first.status_code == 201 and first.json()["alertId"] == "0"
        again = api.post(alert, json={"title": "Disk full", "alertId": 0})  # resent: the same one
        assert again.json()["messageId"] == first.json()["messageId"]
        other = api.post(alert, json={"title": "Disk full"})  # none given: a new one each time
        assert other.json()["messageId"] != first.json()["messageId"]


@pytest.mark.sqlite_only  # the store is broken behind the server's back through its file
def test_an_internal_error_is_json_500_without_detail(
    served: Served, partner_key: str, db_path: Path
) -> None:
    with api_client(served, partner_key) as api:
        api.post("/organization/accounts", json=[{"id": "a1", "name": "Acme"}])
        with sqlite3.connect(db_path) as raw:  # a store broken behind the server's back
            raw.execute("ALTER TABLE alert RENAME TO alert_gone")
        failed = api.post("/alerting/a1", json={"title": "Disk full"})
        rejection(failed, 500, "Internal error: try again later")
        assert "alert" not in failed.text.lower().replace("alerting", "")
        assert api.get("/organization").status_code == 200  # and it goes on answering
