"""A loopback HTTP server that answers the Grafana routes `livinglab dashboards push` calls.

It keeps data sources, folders and dashboards as Grafana's legacy HTTP API does (a dashboard gets
an id and a version on save; a data source's password is never returned, only flagged in
`secureJsonFields`), accepts one Bearer token, and records every request. grafana-client talks
over real HTTP: a real server is the stand-in, so what goes over the wire is what is checked.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class GrafanaState:
    token: str
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]


def _handler(state: GrafanaState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return dict(json.loads(self.rfile.read(length) or b"{}"))

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            state.requests.append((method, url.path))
            if self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, {"message": "Unauthorized"})
                return
            parts = url.path.strip("/").split("/")
            body = self._body() if method in ("POST", "PUT") else {}
            status, answer = _answer(state, method, parts, body, parse_qs(url.query))
            self._send(status, answer)

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_PUT(self) -> None:
            self._route("PUT")

    return Handler


def _answer(
    state: GrafanaState,
    method: str,
    parts: list[str],
    body: dict[str, Any],
    query: dict[str, list[str]],
) -> tuple[int, object]:
    match method, parts:
        case "GET", ["api", "datasources", "uid", uid]:
            if uid not in state.datasources:
                return 404, {"message": "Data source not found"}
            return 200, state.datasources[uid]
        case "POST", ["api", "datasources"]:
            if body["uid"] in state.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            return 200, _save_datasource(state, body)
        case "PUT", ["api", "datasources", "uid", uid]:
            if uid not in state.datasources:
                return 404, {"message": "Data source not found"}
            return 200, _save_datasource(state, {**body, "uid": uid})
        case "GET", ["api", "folders", uid]:
            if uid not in state.folders:
                return 404, {"message": "folder not found"}
            return 200, state.folders[uid]
        case "POST", ["api", "folders"]:
            folder = {"id": len(state.folders) + 1, "version": 1, **body}
            state.folders[body["uid"]] = folder
            return 200, folder
        case "PUT", ["api", "folders", uid]:
            state.folders[uid] = {**state.folders[uid], "title": body["title"]}
            return 200, state.folders[uid]
        case "GET", ["api", "dashboards", "uid", uid]:
            if uid not in state.dashboards:
                return 404, {"message": "Dashboard not found"}
            return 200, state.dashboards[uid]
        case "POST", ["api", "dashboards", "db"]:
            if body.get("folderUid") not in state.folders:
                return 400, {"message": "folder not found"}
            dashboard = dict(body["dashboard"])
            old = state.dashboards.get(dashboard["uid"])
            version = old["dashboard"]["version"] + 1 if old else 1
            saved = {**dashboard, "id": len(state.dashboards) + 1, "version": version}
            meta = {"folderUid": body["folderUid"], "slug": dashboard["uid"]}
            state.dashboards[dashboard["uid"]] = {"dashboard": saved, "meta": meta}
            return 200, {
                "status": "success",
                "uid": dashboard["uid"],
                "version": version,
            }
        case "GET", ["api", "search"]:
            folders = set(query.get("folderUIDs", []))
            return 200, [
                {"uid": uid, "title": d["dashboard"]["title"], "type": "dash-db"}
                for uid, d in state.dashboards.items()
                if not folders or d["meta"]["folderUid"] in folders
            ]
    return 404, {"message": "Not found"}


def _save_datasource(state: GrafanaState, body: dict[str, Any]) -> dict[str, Any]:
    secure = body.pop("secureJsonData", {}) or {}
    if "password" in secure:
        state.passwords[body["uid"]] = secure["password"]
    saved = {
        "id": len(state.datasources) + 1,
        "orgId": 1,
        "basicAuth": False,
        "readOnly": False,
        **body,
        "secureJsonFields": {"password": body["uid"] in state.passwords},
    }
    state.datasources[body["uid"]] = saved
    return {"datasource": saved, "message": "Datasource saved"}


class GrafanaStub:
    """`with GrafanaStub(token) as grafana:` serves on `grafana.url` until the block ends."""

    def __init__(self, token: str) -> None:
        self.state = GrafanaState(token=token)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.state))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> GrafanaStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
