#!/usr/bin/env python3
"""A real SMTP server on loopback for the notification tests (aiosmtpd).

Usage: sink.py PORT DIR [--fail-first N]
Every accepted message is written to DIR/<n>.eml (n counts from 1) with its envelope recipient in
DIR/<n>.rcpt. With --fail-first N the first N DATA commands are refused with a temporary 451, so
tests can see retries. Prints "ready" once listening.
"""
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory, fail_first):
        self.dir = directory
        self.fail_left = fail_first
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 try again later"
            self.n += 1
            n = self.n
        path = os.path.join(self.dir, f"{n}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(self.dir, f"{n}.rcpt"), "w") as f:
            f.write(",".join(envelope.rcpt_tos))
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    fail_first = 0
    if "--fail-first" in sys.argv:
        fail_first = int(sys.argv[sys.argv.index("--fail-first") + 1])
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory, fail_first), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
