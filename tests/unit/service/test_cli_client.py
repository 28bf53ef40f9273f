"""The CLI's HTTP client when something other than a fragility server answers (issue 30, first hour): another
program on port 8000 answered `fragility` with its own 401, which the CLI printed as if it were the service's."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import typer

from service.cli.client import ServerClient

FRAGILITY = Path(sys.executable).with_name("fragility")


def client_answering(status: int, body: bytes, content_type: str) -> ServerClient:
    """Return a ServerClient of http://127.0.0.1:8000 whose every request gets this answer."""
    transport = httpx.MockTransport(lambda _request: httpx.Response(status, content=body,
                                                                    headers={"content-type": content_type}))
    return ServerClient("http://127.0.0.1:8000", None,
                        http=httpx.Client(base_url="http://127.0.0.1:8000", transport=transport))


@pytest.mark.parametrize(("status", "body", "content_type", "code"), [
    (401, b"<html><body>401 Authorization Required</body></html>", "text/html", 1),
    (401, b'{"detail": "Not authenticated"}', "application/json", 1),  # another FastAPI app
    (200, b"<html>somebody else's page</html>", "text/html", 1),
    (503, b"Service Unavailable", "text/plain", 3),  # a proxy in front of a server that is not up: unreachable
])
def test_an_answer_that_is_not_a_fragility_servers_says_who_answered_and_names_url(
        status, body, content_type, code, capsys):
    with pytest.raises(typer.Exit) as ended:
        client_answering(status, body, content_type).call("GET", "/v1/models")
    printed = capsys.readouterr().err
    assert ended.value.exit_code == code
    assert f"error: {status} from http://127.0.0.1:8000, which does not answer as a fragility server" in printed
    assert "hint:" in printed and "--url / FRAGILITY_URL" in printed, printed


def test_a_fragility_error_answer_is_printed_as_before(capsys):
    body = b'{"error": "Unauthorized", "detail": "missing API key", "hint": "Pass --key.", "request_id": "r"}'
    with pytest.raises(typer.Exit) as ended:
        client_answering(401, body, "application/json").call("GET", "/v1/models")
    printed = capsys.readouterr().err
    assert ended.value.exit_code == 1 and "error: 401 Unauthorized: missing API key" in printed
    assert "hint: Pass --key." in printed and "does not answer as a fragility server" not in printed, printed


class Refuses(http.server.BaseHTTPRequestHandler):
    """Another program on the port: every GET is a 401 with a page of its own."""

    def do_GET(self):  # the standard library calls it by this name
        body = b"<html><body><h1>401 Unauthorized</h1></body></html>"
        self.send_response(401)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def test_the_command_asking_another_program_on_the_port_names_url_and_fragility_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        done = subprocess.run([str(FRAGILITY), "models", "list", "--url", url], capture_output=True, text=True,
                              timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 1, done
    assert f"error: 401 from {url}, which does not answer as a fragility server" in done.stderr, done.stderr
    assert "--url / FRAGILITY_URL" in done.stderr and "Traceback" not in done.stderr, done.stderr
