"""A throw-away tinyproxy on a free loopback port (never the system service).

``TinyProxy()`` writes its own config in a temp dir and starts ``tinyproxy -d -c conf``:
``Listen``/``Allow`` 127.0.0.1 only, no ``ConnectPort`` line (so CONNECT reaches any port:
tinyproxy allows every port when none is listed), ``BasicAuth`` when given a user and a
password. As root it drops to ``nobody`` (``User``/``Group``, as tinyproxy advises); the
log file is then created beforehand for that user, since tinyproxy opens it only after
dropping privileges.

tinyproxy logs one line per request it reads, at ``LogLevel Connect`` and above::

    CONNECT   Dec 06 01:53:41.917 [2392]: Request (file descriptor 5): GET http://127.0.0.1:18890/ HTTP/1.1
    CONNECT   Dec 06 01:53:30.904 [2344]: Request (file descriptor 5): CONNECT 127.0.0.1:443 HTTP/1.1

``requests()`` parses those lines: every request it read, the ones it refused with 407
included (tinyproxy logs the line before checking the credentials).
"""  # noqa: E501

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

_SCRIPT = "scripts/ensure-proxy.sh"
_REQUEST = re.compile(r"\]: Request \(file descriptor \d+\): (\S+ \S+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TinyProxy:
    """One tinyproxy process; ``user`` and ``password`` turn on Basic proxy authentication."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        if (user is None) != (password is None):
            raise ValueError("give both user and password, or neither")
        binary = shutil.which("tinyproxy")
        if binary is None:
            pytest.fail(f"tinyproxy is not installed: run {_SCRIPT} (or apt-get install it)")
        self.binary = binary
        self.user = user
        self.password = password
        self.dir = Path(tempfile.mkdtemp(prefix="vf-tinyproxy-"))
        self.log = self.dir / "tinyproxy.log"
        self.conf = self.dir / "tinyproxy.conf"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_with_auth(self) -> str:
        """``http://user:password@127.0.0.1:PORT`` (the plain URL without authentication)."""
        if self.user is None:
            return self.url
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Allow 127.0.0.1",
            "Timeout 60",
            "MaxClients 100",
            f'LogFile "{self.log}"',
            "LogLevel Connect",
            # No ConnectPort line: CONNECT is allowed to every port.
        ]
        if self.user is not None:
            lines.append(f"BasicAuth {self.user} {self.password}")
        self.log.touch()
        if os.geteuid() == 0:
            # As root tinyproxy warns and keeps root unless told whom to become; it opens
            # the log after switching, so the log (and the way to it) must suit that user.
            try:
                nobody = pwd.getpwnam("nobody")
            except KeyError:
                nobody = None
            if nobody is not None:
                lines += [f"User {nobody.pw_uid}", f"Group {nobody.pw_gid}"]
                os.chown(self.log, nobody.pw_uid, nobody.pw_gid)
                self.dir.chmod(0o711)  # through the dir, not into it: the config stays 0600
        self.conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.conf.chmod(0o600)

    def start(self) -> None:
        """Start on a free port and wait (10 s at most) until it accepts connections."""
        for _attempt in range(3):  # the free port may be taken before tinyproxy binds it
            self.port = free_port()
            self._write_config()
            with (self.dir / "stderr.txt").open("wb") as stderr:
                self.process = subprocess.Popen(
                    [self.binary, "-d", "-c", str(self.conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                )
            if self._wait_until_listening(deadline=time.monotonic() + 10):
                return
            self.stop()
        said = (self.dir / "stderr.txt").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"tinyproxy did not start: {said}\nits log:\n{self._read_log()}")

    def _wait_until_listening(self, deadline: float) -> bool:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def _read_log(self) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def requests(self) -> list[str]:
        """``METHOD target`` of every request read so far, in order (407s included)."""
        return [
            found.group(1)
            for line in self._read_log().splitlines(keepends=True)
            if line.endswith("\n") and (found := _REQUEST.search(line))
        ]

    def requests_seen(self) -> int:
        """How many requests (GETs, CONNECTs ...) it has read so far."""
        return len(self.requests())

    def stop(self) -> None:
        """Stop the process (killed after 10 s); the temp dir stays until ``cleanup``."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def cleanup(self) -> None:
        """Stop, and remove the temp dir with the config and the log."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
