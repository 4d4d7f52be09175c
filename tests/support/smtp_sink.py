"""SMTP sink for lvsd's tests: aiosmtpd on HOST:PORT, one JSON line per message in OUT
(with the name the client greeted with).

Usage: smtp_sink.py HOST PORT OUT READYFILE  (READYFILE is created once listening)
"""
import json
import sys
import time

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, out):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        data = envelope.content.decode("utf-8", errors="replace")
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"helo": session.host_name,
                                "from": envelope.mail_from,
                                "to": list(envelope.rcpt_tos),
                                "data": data}) + "\n")
        return "250 Message accepted for delivery"


def main():
    host, port, out, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    ctl = Controller(Recorder(out), hostname=host, port=port)
    ctl.start()
    open(ready, "w").close()
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
