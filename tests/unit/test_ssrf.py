"""URL ingestion refuses non-HTTP schemes and private, loopback and link-local addresses.

A real HTTP server bound on 127.0.0.1 stands in for an internal service: it must be refused
unless private addresses are explicitly allowed. For the redirect tests, 127.0.0.1 is declared
"public" and the redirect goes to 127.0.0.2 (also the loopback interface on Linux).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from typer.testing import CliRunner

from arag.cli import app
from tools.ingest import url_loader
from tools.ingest.loaders import LoaderError
from tools.ingest.url_loader import BlockedURLError, blocked_reason, load_url

pytestmark = pytest.mark.reliability

PAGE = (
    b"<html><head><title>Internal wiki</title></head>"
    b"<body><p>The staging database password rotates every Tuesday.</p></body></html>"
)


class Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        Handler.hits.append(f"{self.server.server_address[0]}{self.path}")
        port = self.server.server_address[1]
        routes = {
            "/page": (200, "text/html; charset=utf-8", PAGE),
            "/blob": (200, "application/octet-stream", b"\x00\x01"),
            "/missing": (404, "text/plain", b"nope"),
        }
        redirects = {
            "/to-private": f"http://127.0.0.2:{port}/page",
            "/to-file": "file:///etc/passwd",
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        }
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, ctype, body = routes.get(self.path, (404, "text/plain", b"nope"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[str]:
    """``http://127.0.0.1:PORT``, also answering on 127.0.0.2 (bound to all of 127/8)."""
    Handler.hits = []
    httpd = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def loopback_one_is_public(monkeypatch):
    """Treat 127.0.0.1 as a public address (and only it), to test redirects off it."""
    real = url_loader.blocked_reason
    monkeypatch.setattr(
        url_loader, "blocked_reason", lambda a: None if a == "127.0.0.1" else real(a)
    )


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata service
        ("fe80::1%eth0", "link-local"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("2002:7f00:1::1", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("2002:a01:203::1", "private"),  # 6to4 wrapping 10.1.2.3
        ("fec0::1", "site-local"),
    ],
)
def test_non_public_addresses_are_blocked(address, kind, fault_ledger):
    with fault_ledger.fault("ssrf", "private, loopback or link-local address") as observed:
        observed.observe(
            "kind in blocked_reason(address)", bool(kind in blocked_reason(address)), expected=True
        )


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert blocked_reason(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/a.txt",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "dict://127.0.0.1:11211/stat",
        "data://text/plain,hello",
    ],
)
def test_non_http_schemes_are_refused(url, fault_ledger):
    with fault_ledger.fault("ssrf", "non-HTTP scheme") as observed:
        with pytest.raises(BlockedURLError) as info:
            load_url(url)
        observed.observe(
            "refusal names the rule",
            "only http and https URLs" in str(info.value),
            expected=True,
        )


def test_local_server_is_refused_unless_allowed(server, monkeypatch, fault_ledger):
    monkeypatch.delenv("ARAG_ALLOW_PRIVATE_URLS", raising=False)
    for host in ("127.0.0.1", "localhost"):
        url = server.replace("127.0.0.1", host) + "/page"
        with fault_ledger.fault("ssrf", "loopback HTTP server") as observed:
            with pytest.raises(BlockedURLError, match="loopback address") as info:
                load_url(url)
            observed.observe(
                '"ARAG_ALLOW_PRIVATE_URLS=1" in str(info.value)',
                bool("ARAG_ALLOW_PRIVATE_URLS=1" in str(info.value)),
                expected=True,
            )
    assert Handler.hits == []  # refused before connecting
    monkeypatch.setenv("ARAG_ALLOW_PRIVATE_URLS", "1")
    [doc] = load_url(server + "/page")
    assert "password rotates every Tuesday" in doc.page_content
    assert doc.metadata["source"] == server + "/page"
    assert doc.metadata["title"] == "Internal wiki"


def test_a_host_with_any_private_address_is_refused(monkeypatch, fault_ledger):
    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with fault_ledger.fault("ssrf", "DNS answer mixing public and private addresses") as observed:
        with pytest.raises(BlockedURLError) as info:
            load_url("http://mixed.example/")
        observed.observe(
            "refusal names the private address",
            "mixed.example resolves to a private" in str(info.value),
            expected=True,
        )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/to-private", "127.0.0.2 resolves to a loopback address"),
        ("/to-file", "only http and https URLs can be ingested, not 'file'"),
        ("/to-metadata", "169.254.169.254 resolves to a link-local address"),
    ],
)
def test_redirects_to_refused_targets_are_not_followed(
    server, path, message, loopback_one_is_public, fault_ledger
):
    with fault_ledger.fault("ssrf", "redirect to a refused target") as observed:
        with pytest.raises(BlockedURLError, match=message):
            load_url(server + path)
        observed.observe(
            'Handler.hits == [f"0.0.0.0{path}"] or Handler.hits == [f"127.0.0.1{...',
            bool(Handler.hits == [f"0.0.0.0{path}"] or Handler.hits == [f"127.0.0.1{path}"]),
            expected=True,
        )


def test_http_errors_and_unsupported_types_are_clear(server, monkeypatch):
    monkeypatch.setenv("ARAG_ALLOW_PRIVATE_URLS", "1")
    with pytest.raises(LoaderError, match="HTTP 404"):
        load_url(server + "/missing")
    with pytest.raises(LoaderError, match="unsupported content type 'application/octet-stream'"):
        load_url(server + "/blob")


def test_cli_ingest_refuses_the_local_url_then_allows_it(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ARAG_MODEL", "offline")
    monkeypatch.delenv("ARAG_ALLOW_PRIVATE_URLS", raising=False)
    runner = CliRunner()
    data_dir = str(tmp_path / "data")
    url = server + "/page"
    refused = runner.invoke(app, ["ingest", url, "--data-dir", data_dir])
    assert refused.exit_code == 1
    assert f"skipped {url}: refused: 127.0.0.1 resolves to a loopback address" in refused.output
    assert "0 files ok, 1 failed" in refused.output
    monkeypatch.setenv("ARAG_ALLOW_PRIVATE_URLS", "1")
    allowed = runner.invoke(app, ["ingest", url, "--data-dir", data_dir])
    assert allowed.exit_code == 0, allowed.output
    assert "1 file ok" in allowed.output
    ask = runner.invoke(
        app, ["ask", "When does the staging password rotate?", "--data-dir", data_dir, "--json"]
    )
    payload = json.loads(ask.stdout)
    assert "Tuesday" in payload["answer"]
    assert payload["citations"][0]["source"] == url


@pytest.mark.parametrize("url", ["http://0177.0.0.1/", "http://[::1/", "http://[fec0::1]/x"])
def test_a_malformed_or_internal_url_is_one_line_and_the_rest_is_ingested(url, tmp_path):
    from tools.embeddings import load_embeddings
    from tools.ingest.pipeline import ingest

    good = tmp_path / "good.md"
    good.write_text("# Zebras\n\nZebras have black and white stripes.\n")
    report = ingest([url, good], tmp_path / "index", load_embeddings("wordllama"))
    assert report.files_ok == 1 and report.chunks_total == 1
    ((failed, reason),) = report.files_failed
    assert failed == url and reason.startswith("refused:")
