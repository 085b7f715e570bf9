"""An SMTP server that keeps what it receives: ``python -m workers.smtp_sink --host H --port P --dir D``.

Development and the tests use it as the real SMTP server. Each message becomes one file in D, written atomically
(``<connection>-<sequence>.eml``), with ``X-Sink-Connection``, ``X-Sink-Mail-From`` and ``X-Sink-Rcpt-To`` lines
prepended, so a reader can tell how many SMTP connections delivered what.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


class FileSink:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._connections = itertools.count(1)
        self._messages = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):  # the name is aiosmtpd's hook
        if not hasattr(session, "sink_connection"):
            session.sink_connection = next(self._connections)
        number = next(self._messages)
        header = (
            f"X-Sink-Connection: {session.sink_connection}\r\n"
            f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
            f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        name = f"{session.sink_connection:06d}-{number:09d}.eml"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_bytes(header + envelope.original_content)
        os.replace(temporary, self.directory / name)
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="SMTP server that stores each message as a file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    controller = Controller(FileSink(args.dir), hostname=args.host, port=args.port, decode_data=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    print(f"SMTP sink on {args.host}:{args.port}, storing messages in {args.dir}", flush=True)
    try:
        stop.wait()
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
