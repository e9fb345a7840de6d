#!/usr/bin/env python3
"""The disk's raw durable-write rate for files of one size: the floor for report intake.

Each write is what a durable store must do at the least for one file: create a temporary file,
write SIZE bytes, fsync it, rename it into place and fsync the directory. WRITERS threads write
concurrently (the GIL is released during write and fsync) for SECONDS.

Usage: fsync.py DIR [--size BYTES] [--writers N] [--seconds S]
Prints one line: "RAW writers=N files=... seconds=... files_per_s=... mib_per_s=..."
"""
import argparse
import os
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--writers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    payload = os.urandom(a.size)
    counts = [0] * a.writers
    stop = time.monotonic() + a.seconds

    def writer(w):
        dfd = os.open(a.dir, os.O_RDONLY)
        n = 0
        while time.monotonic() < stop:
            tmp = os.path.join(a.dir, f".tmp-{w}-{n}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, payload[:16] + n.to_bytes(8, "little") + payload[24:])
            os.fsync(fd)
            os.close(fd)
            os.rename(tmp, os.path.join(a.dir, f"blob-{w}-{n}"))
            os.fsync(dfd)
            n += 1
        os.close(dfd)
        counts[w] = n

    t0 = time.monotonic()
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(a.writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.monotonic() - t0
    files = sum(counts)
    for name in os.listdir(a.dir):
        os.unlink(os.path.join(a.dir, name))
    print(f"RAW writers={a.writers} files={files} seconds={secs:.2f} "
          f"files_per_s={files / secs:.1f} mib_per_s={files * a.size / secs / (1 << 20):.1f}")


if __name__ == "__main__":
    main()
