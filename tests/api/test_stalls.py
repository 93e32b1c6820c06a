"""Slow and stalled clients never starve other people: a real uvicorn server, real sockets.

The attack (a security review's): partners start exports and downloads, read 10 bytes and then
nothing more. Before the fix each held one of the API's 4 pooled connections for as long as it
stalled, and /health, /me and the web pages answered 503 to everyone.
"""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import psycopg
import pytest

from livinglab_platform.api import create_app
from livinglab_platform.api.app import DATABASE_WAIT_S
from livinglab_platform.core.settings import ApiSettings
from livinglab_platform.registry.tokens import TOKEN_COOKIE
from tests.api.conftest import broker_settings
from tests.api.readings import insert_readings
from tests.api.server import Server, serve
from tests.api.world import T0, World, add_device

pytestmark = pytest.mark.slow

# 300,000 raw readings are about 20 MB of CSV: far more than the sockets' buffers hold, so a
# client that stops reading really stalls the server's sends.
READINGS = 300_000
EXPORT = {
    "device": "dev-a",
    "interval": "raw",
    "start": T0.isoformat(),
    "end": (T0 + timedelta(days=4)).isoformat(),
}


def _big_device(world: World) -> None:
    with psycopg.connect(world.dsn) as conn:
        sensor = add_device(conn, "dev-a", "startup-a")
        insert_readings(conn, sensor, start=T0, n=READINGS, step=timedelta(seconds=1))
        add_device(conn, "dev-b", "startup-b")
        conn.commit()


def _stall_exports(server: Server, world: World, who: list[str]) -> list[socket.socket]:
    stalled = []
    for person in who:
        stalled.append(
            server.stall("/api/v1/export", headers=world.headers(person), params=EXPORT)
        )
    return stalled


def _status_line(sock: socket.socket) -> bytes:
    # `stall` read 10 bytes: "HTTP/1.1 2" and the rest of the status code follow.
    return sock.recv(2)


def test_stalled_downloads_never_starve_other_people(world: World):
    _big_device(world)
    settings = ApiSettings(database_url=world.dsn, api_send_timeout_s=120)
    with serve(create_app(settings, broker_settings(None))) as server:
        # Four stalled downloads, as in the review: two each by an operator and a partner.
        stalled = _stall_exports(
            server, world, ["operator", "partner", "operator", "partner"]
        )
        try:
            time.sleep(1.0)
            # Everyone else still gets answers, at once: never the 503 of an empty pool.
            viewer = world.headers("viewer")
            cookie = {"Cookie": f"{TOKEN_COOKIE}={world.tokens['viewer']}"}
            for path, headers in [
                ("/api/v1/health", {}),
                ("/api/v1/me", viewer),
                ("/api/v1/trials", viewer),
                ("/api/v1/me", world.headers("other")),
                ("/trials", cookie),
            ]:
                for _ in range(3):
                    answer = server.request("GET", path, headers=headers)
                    assert answer.status == 200, (
                        path,
                        answer.status,
                        answer.body[:200],
                    )
                    assert answer.seconds < DATABASE_WAIT_S / 2, (path, answer.seconds)
            # A download beyond the bounds is refused at once, with when to come back.
            busy = server.request(
                "GET",
                "/api/v1/export",
                headers=world.headers("other"),
                params=EXPORT | {"device": "dev-b"},
            )
            assert busy.status == 429, busy.body[:200]
            assert busy.headers["retry-after"] == "5"
            assert busy.seconds < DATABASE_WAIT_S
            # Each stalled attempt either holds one of the exports' connections or was refused.
            codes = sorted(_status_line(s) for s in stalled)
            assert codes == [b"00", b"00", b"29", b"29"], codes
        finally:
            for sock in stalled:
                sock.close()


def _read_to_end(sock: socket.socket) -> bytes:
    sock.settimeout(20)
    parts = []
    while part := sock.recv(1 << 16):
        parts.append(part)
    return b"".join(parts)


def test_a_stalled_download_is_cut_after_the_send_timeout(world: World):
    _big_device(world)
    settings = ApiSettings(database_url=world.dsn, api_send_timeout_s=1)
    with serve(create_app(settings, broker_settings(None))) as server:
        [stalled] = _stall_exports(server, world, ["partner"])
        try:
            # While it stalls, the partner's slot is taken: a second download waits its turn.
            second = server.request(
                "GET", "/api/v1/export", headers=world.headers("partner"), params=EXPORT
            )
            assert second.status == 429, second.body[:200]
            # Once the send timeout has passed the stalled download is cut and its slot freed.
            deadline = time.monotonic() + 15
            while True:
                again = server.request(
                    "GET",
                    "/api/v1/export",
                    headers=world.headers("partner"),
                    params=EXPORT | {"end": (T0 + timedelta(hours=1)).isoformat()},
                )
                if again.status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert again.status == 200, again.body[:200]
            assert again.body.count(b"\n") == 1 + 3600
            # The cut download ends without the last chunk: no client takes it for a whole file.
            rest = _read_to_end(stalled)
            assert not rest.endswith(b"0\r\n\r\n")
            assert rest.count(b"\n") < READINGS
        finally:
            stalled.close()
