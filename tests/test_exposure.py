"""The app as shipped is local: it listens on 127.0.0.1 only and makes no outside connection when it starts.

``streamlit run app.py`` is started with the repository's own ``.streamlit/config.toml`` (no address on the command
line) on a free port, with a new project and the hashing embedder. How "no outside connection" is observed: the
server runs with a ``sitecustomize`` module that installs a Python audit hook (PEP 578) for the events every
Python-level network call raises (``socket.getaddrinfo``, ``socket.connect``, ``socket.sendto``); each one is
written to a log, and one whose host is not loopback is also refused (so a test run never sends anything). Name
resolution of ``checkip.amazonaws.com`` and the UDP "connect" Streamlit uses to find the LAN address both pass
through these events; ``test_the_network_log_sees_streamlits_external_ip_lookup`` shows that the hook catches
Streamlit's own lookup, so an empty log is a real observation, not a blind spot. Native code that opens sockets
without Python's ``socket`` module would not be seen; Streamlit's server (Tornado/asyncio) does not do that.

Listening sockets are read from ``/proc/net/tcp`` and ``/proc/net/tcp6`` (what ``ss -ltn`` reads).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SITECUSTOMIZE = r'''
import json, os, sys

_LOG = os.environ["THEMATIC_NET_LOG"]
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0:0:0:0:0:0:0:1", "", None}


def _host(address):
    if isinstance(address, tuple) and address:
        return address[0]
    return None if isinstance(address, (str, bytes)) else address  # AF_UNIX paths are local


def _hook(event, args):
    if event == "socket.getaddrinfo":
        host = args[0]
    elif event in ("socket.connect", "socket.sendto"):
        host = _host(args[1])
    else:
        return
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    local = host in _LOOPBACK or (isinstance(host, str) and host.startswith("127."))
    with open(_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": event, "host": str(host), "local": local}) + "\n")
    if not local:
        raise OSError(f"outside connection refused by the test: {event} {host}")


sys.addaudithook(_hook)
'''


def _net_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "net.log"
    log.write_text("", encoding="utf-8")
    # no proxy: a request sent through a proxy on this machine would look like a loopback connection
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = os.pathsep.join([str(hook_dir), str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["THEMATIC_NET_LOG"] = str(log)
    return env, log


def _log(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN state on ``port`` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for name, width in (("tcp", 8), ("tcp6", 32)):
        table = Path("/proc/net") / name
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:
                continue
            raw = bytes.fromhex(addr_hex)
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, raw[::-1]))
            else:  # four little-endian 32-bit words
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                found.add(socket.inet_ntop(socket.AF_INET6, words))
    return found


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[int, Path, subprocess.Popen[bytes]]]:
    env, log = _net_env(tmp_path)
    env.update(THEMATIC_FAKE_EMBEDDER="1", THEMATIC_PROJECT=str(tmp_path / "p.db"), HF_HUB_OFFLINE="1")
    port = _free_port()
    out = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield port, log, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], log_file: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited ({proc.returncode}):\n{log_file.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError as exc:
            last = exc
        time.sleep(0.5)
    pytest.fail(f"streamlit not healthy after {timeout:.0f}s ({last}):\n{log_file.read_text(errors='replace')[-3000:]}")


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_the_shipped_app_listens_on_loopback_only_and_connects_nowhere(
    server: tuple[int, Path, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, log, proc = server
    _wait_healthy(port, proc, tmp_path / "server.log")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        assert r.status == 200 and b"<html" in r.read().lower()
    outside = [e for e in _log(log) if not e["local"]]
    assert outside == []
    assert _listening(port) == {"127.0.0.1"}
    banner = (tmp_path / "server.log").read_text(errors="replace")
    assert f"http://127.0.0.1:{port}" in banner
    assert "Network URL" not in banner and "External URL" not in banner


def test_the_network_log_sees_streamlits_external_ip_lookup(tmp_path: Path) -> None:
    """The control: the same hook, around the function Streamlit calls at start when no address is set."""
    env, log = _net_env(tmp_path)
    code = "from streamlit import net_util; print(net_util.get_external_ip())"
    r = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "None"  # refused by the hook, so nothing left the machine
    hosts = {e["host"] for e in _log(log) if not e["local"]}
    assert "checkip.amazonaws.com" in hosts
