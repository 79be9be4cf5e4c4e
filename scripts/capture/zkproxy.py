#!/usr/bin/env python3
"""Recording TCP proxy for the ZooKeeper client protocol.

Sits between a ZooKeeper client and server, forwards bytes unchanged, splits each direction into
frames (4-byte big-endian length + body) and appends them to a text fixture, one frame per line:

    c2s <hex of the whole frame, length prefix included>  # decoded summary
    s2c <hex>  # decoded summary

Lines starting with '#' are comments. A frame is written *before* its last byte is forwarded, so the
file order is causal: a request is always written before its reply, and a reply before the client's
next request.

Control (all optional):
  --control HOST:PORT   line protocol, one command per line, each answered "ok" or "err <why>":
      open <path>       record connections accepted from now on into <path> (truncated)
      comment <text>    write "# <text>" into the current fixture
      close             stop recording into the current fixture
      drop              close every live client connection (and its upstream), forcing a reconnect
      drop-after <n>    drop each live connection after it has sent <n> more frames
      quit              stop the proxy
  --out PATH            record into PATH from the start (same as "open PATH")
  --drop-after N        drop every connection after it has sent N client frames
  SIGUSR1               same as "drop"

A connection records into the fixture that was open when it was accepted, so frames of an old
session never leak into the next scenario's file.

Standard library only. Usage:
    zkproxy.py --upstream 127.0.0.1:2181 --listen 127.0.0.1:0 --control 127.0.0.1:0 \
        --ready-file /tmp/proxy.ports
The ready file gets "<listen port> <control port>" once both sockets listen.
"""

import argparse
import os
import signal
import socket
import struct
import sys
import threading

import zkdecode

MAX_FRAME = 64 * 1024 * 1024  # larger than any sane jute.maxbuffer; protects the parser only


class Fixture:
    """One fixture file; writes are serialized by a lock shared by all connections."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "w", encoding="utf-8")
        self.lock = threading.Lock()
        self.closed = False
        self.connections = 0

    def next_connection(self):
        """Connections are numbered per fixture, from 1."""
        with self.lock:
            self.connections += 1
            return self.connections

    def line(self, text):
        with self.lock:
            if not self.closed:
                self.file.write(text + "\n")
                self.file.flush()

    def close(self):
        with self.lock:
            if not self.closed:
                self.closed = True
                self.file.close()


class Connection:
    """A proxied client connection: two pumping threads and the decoder state they share."""

    def __init__(self, proxy, number, client, upstream, fixture, drop_after):
        self.proxy = proxy
        self.number = number
        self.client = client
        self.upstream = upstream
        self.fixture = fixture
        self.drop_after = drop_after
        self.client_frames = 0
        self.decoder = zkdecode.ConnectionDecoder()
        self.closed = threading.Event()
        self.lock = threading.Lock()

    def record(self, text):
        if self.fixture is not None:
            self.fixture.line(text)

    def start(self):
        self.record("# connection %d opened" % self.number)
        for src, dst, direction in ((self.client, self.upstream, "c2s"), (self.upstream, self.client, "s2c")):
            threading.Thread(target=self.pump, args=(src, dst, direction), daemon=True).start()

    def pump(self, src, dst, direction):
        buf = b""
        try:
            while not self.closed.is_set():
                chunk = src.recv(65536)
                if not chunk:
                    self.shut("%s closed by %s" % (direction, "client" if direction == "c2s" else "server"))
                    return
                buf += chunk
                while len(buf) >= 4:
                    (length,) = struct.unpack(">i", buf[:4])
                    if length < 0 or length > MAX_FRAME:
                        # Not ZooKeeper framing (e.g. a four-letter word): record raw and stop parsing.
                        self.record("# %s unframed bytes: %s" % (direction, buf.hex()))
                        buf = b""
                        break
                    if len(buf) < 4 + length:
                        break
                    frame, buf = buf[: 4 + length], buf[4 + length :]
                    self.record_frame(direction, frame)
                dst.sendall(chunk)
                if direction == "c2s" and self.drop_after is not None and self.client_frames >= self.drop_after:
                    self.drop("after %d client frames" % self.client_frames)
                    return
        except OSError as e:
            self.shut("%s: %s" % (direction, e))

    def record_frame(self, direction, frame):
        with self.lock:
            if direction == "c2s":
                self.client_frames += 1
            try:
                note = self.decoder.decode(direction, frame[4:])
            except Exception as e:  # annotation must never break recording
                note = "(undecoded: %s)" % e
        self.record("%s %s  # %s" % (direction, frame.hex(), note))

    def drop(self, why):
        if not self.closed.is_set():
            self.record("# connection %d dropped by proxy (%s)" % (self.number, why))
        self.shut(None)

    def shut(self, why):
        with self.lock:
            if self.closed.is_set():
                return
            self.closed.set()
        if why:
            self.record("# connection %d closed: %s" % (self.number, why))
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy.forget(self)


class Proxy:
    def __init__(self, upstream, drop_after):
        self.upstream = upstream
        self.drop_after = drop_after
        self.fixture = None
        self.connections = []
        self.count = 0
        self.lock = threading.Lock()
        self.stopped = threading.Event()

    def open(self, path):
        with self.lock:
            if self.fixture is not None:
                self.fixture.close()
            self.fixture = Fixture(path)

    def close(self):
        with self.lock:
            if self.fixture is not None:
                self.fixture.close()
            self.fixture = None

    def comment(self, text):
        with self.lock:
            fixture = self.fixture
        if fixture is None:
            raise ValueError("no fixture open")
        fixture.line("# " + text)

    def drop_all(self, why="on command"):
        with self.lock:
            live = list(self.connections)
        for conn in live:
            conn.drop(why)
        return len(live)

    def set_drop_after(self, n):
        with self.lock:
            live = list(self.connections)
        for conn in live:
            with conn.lock:
                conn.drop_after = conn.client_frames + n

    def forget(self, conn):
        with self.lock:
            if conn in self.connections:
                self.connections.remove(conn)

    def serve(self, listener):
        while not self.stopped.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError as e:
                print("zkproxy: upstream %s:%d: %s" % (self.upstream + (e,)), file=sys.stderr)
                client.close()
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.count += 1
                fixture = self.fixture
                number = fixture.next_connection() if fixture is not None else self.count
                conn = Connection(self, number, client, upstream, fixture, self.drop_after)
                self.connections.append(conn)
            conn.start()

    def control(self, listener):
        while not self.stopped.is_set():
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self.control_session, args=(sock,), daemon=True).start()

    def control_session(self, sock):
        with sock, sock.makefile("rw", encoding="utf-8", newline="\n") as f:
            for line in f:
                cmd, _, arg = line.rstrip("\n").partition(" ")
                try:
                    if cmd == "open":
                        self.open(arg)
                    elif cmd == "comment":
                        self.comment(arg)
                    elif cmd == "close":
                        self.close()
                    elif cmd == "drop":
                        self.drop_all()
                    elif cmd == "drop-after":
                        self.set_drop_after(int(arg))
                    elif cmd == "quit":
                        f.write("ok\n")
                        f.flush()
                        self.stop()
                        return
                    else:
                        raise ValueError("unknown command %r" % cmd)
                    f.write("ok\n")
                except Exception as e:
                    f.write("err %s\n" % e)
                f.flush()

    def stop(self):
        self.stopped.set()
        self.drop_all("proxy stopping")
        self.close()


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return (host or "127.0.0.1", int(port))


def listen(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(addr)
    s.listen(16)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--upstream", required=True, help="ZooKeeper server HOST:PORT")
    ap.add_argument("--listen", default="127.0.0.1:0", help="client side HOST:PORT (default: a free port)")
    ap.add_argument("--control", help="control HOST:PORT")
    ap.add_argument("--out", help="fixture to record into from the start")
    ap.add_argument("--drop-after", type=int, help="drop each connection after N client frames")
    ap.add_argument("--ready-file", help="write '<listen port> <control port>' here once listening")
    args = ap.parse_args()

    proxy = Proxy(parse_addr(args.upstream), args.drop_after)
    if args.out:
        proxy.open(args.out)
    listener = listen(parse_addr(args.listen))
    control = listen(parse_addr(args.control)) if args.control else None
    signal.signal(signal.SIGUSR1, lambda *_: proxy.drop_all("on SIGUSR1"))
    signal.signal(signal.SIGTERM, lambda *_: proxy.stopped.set())

    threading.Thread(target=proxy.serve, args=(listener,), daemon=True).start()
    if control is not None:
        threading.Thread(target=proxy.control, args=(control,), daemon=True).start()
    ports = "%d %d" % (listener.getsockname()[1], control.getsockname()[1] if control else 0)
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(ports + "\n")
        os.rename(tmp, args.ready_file)
    print("zkproxy: listening %s (control %s), upstream %s" % (ports.split()[0], ports.split()[1], args.upstream),
          file=sys.stderr)
    while not proxy.stopped.wait(0.2):
        pass
    proxy.stop()
    listener.close()
    if control is not None:
        control.close()


if __name__ == "__main__":
    main()
