#!/usr/bin/env python3
"""Recording TCP proxies for Apache ZooKeeper's peer ports (election and quorum).

Used by quorum_capture.py (which puts one proxy in front of each server's election port and each
server's quorum port); standard library only. Each proxy forwards bytes unchanged (with one documented
exception below), splits each direction into the protocol's messages and appends one line per message to
a fixture file shared by all proxies of its kind:

    <conn> <dir> <hex of the message as sent>  # decoded summary

`conn` is `e<N>` (election) or `q<N>` (quorum); `dir` is `c2s` (from the peer that opened the TCP
connection) or `s2c`. Lines starting with '#' are comments. A message is written before it is forwarded.

Election port (QuorumCnxManager): the connecting peer first sends an *unframed* initial message
(long protocol version, long sid, int length, "host:port" address) -- or, before 3.5, just its long sid --
then both sides send frames: int length + FastLeaderElection notification.

Quorum port (Leader/Learner): both sides send bare jute QuorumPacket records (int type, long zxid,
buffer data, vector<Id> authinfo) with no length prefix. After a SNAP packet (type 15) the leader streams
the snapshot (SerializeUtils.serializeSnapshot: sessions, ACL cache, nodes up to the "/" marker) and the
string "BenWasHere"; that whole stream is recorded as one `snapshot` line.

The one rewrite: the initial message on the election port carries the sender's own election address,
which a receiver with a larger sid dials back (QuorumCnxManager.handleConnection). The proxies rewrite
that address to the sender's election *proxy* so every election connection stays recorded. The fixture
holds the bytes as the sender wrote them; only the forwarded copy is rewritten.
"""

import socket
import struct
import threading

MAX_MESSAGE = 64 * 1024 * 1024  # protects the parser only

PACKET_TYPES = {
    1: "REQUEST", 2: "PROPOSAL", 3: "ACK", 4: "COMMIT", 5: "PING", 6: "REVALIDATE", 7: "SYNC",
    8: "INFORM", 9: "COMMITANDACTIVATE", 10: "NEWLEADER", 11: "FOLLOWERINFO", 12: "UPTODATE",
    13: "DIFF", 14: "TRUNC", 15: "SNAP", 16: "OBSERVERINFO", 17: "LEADERINFO", 18: "ACKEPOCH",
    19: "INFORMANDACTIVATE",
}
STATES = {0: "LOOKING", 1: "FOLLOWING", 2: "LEADING", 3: "OBSERVING"}
SNAP = 15


class Incomplete(Exception):
    pass


class BadStream(Exception):
    pass


class Cursor:
    def __init__(self, buf, pos=0):
        self.buf, self.pos = buf, pos

    def take(self, n):
        if n < 0 or n > MAX_MESSAGE:
            raise BadStream("length %d" % n)
        if self.pos + n > len(self.buf):
            raise Incomplete()
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def buffer(self):
        n = self.i32()
        return None if n == -1 else self.take(n)

    def string(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8", "replace")


# --- election port ------------------------------------------------------------------------------

def parse_initial(buf):
    """Returns (length, summary, sid, address) of the initial message at the start of buf."""
    c = Cursor(buf)
    version = c.i64()
    if version >= 0:
        return c.pos, "initial message (pre-3.5): sid=%d" % version, version, None
    sid = c.i64()
    n = c.i32()
    if n <= 0 or n > 2048:
        raise BadStream("initial message address length %d" % n)
    addr = c.take(n).decode("utf-8", "replace")
    return c.pos, "initial message: protocol version %d sid=%d addr=%s" % (version, sid, addr), sid, addr


def rewrite_initial(buf, length, new_addr):
    version, sid = struct.unpack(">qq", buf[:16])
    raw = new_addr.encode()
    return struct.pack(">qqi", version, sid, len(raw)) + raw


def parse_election_frame(buf):
    c = Cursor(buf)
    n = c.i32()
    if n <= 0 or n > 512 * 1024:
        raise BadStream("election frame length %d" % n)
    body = c.take(n)
    return c.pos, describe_notification(body)


def describe_notification(b):
    if len(b) < 28:
        return "short notification (%d bytes)" % len(b)
    state, leader, zxid, epoch = struct.unpack(">iqqq", b[:28])
    text = "notification: state=%s leader=%d zxid=0x%x electionEpoch=0x%x" % (
        STATES.get(state, state), leader, zxid, epoch)
    if len(b) >= 36:
        text += " peerEpoch=0x%x" % struct.unpack(">q", b[28:36])[0]
    if len(b) >= 40:
        version = struct.unpack(">i", b[36:40])[0]
        text += " version=%d" % version
        if version > 1 and len(b) >= 44:
            n = struct.unpack(">i", b[40:44])[0]
            config = b[44:44 + n].decode("utf-8", "replace")
            text += " config=%r" % config
    return text


# --- quorum port --------------------------------------------------------------------------------

def parse_packet(buf):
    c = Cursor(buf)
    ptype = c.i32()
    zxid = c.i64()
    data = c.buffer()
    count = c.i32()
    if count < -1:
        raise BadStream("authinfo count %d" % count)
    auth = []
    for _ in range(max(count, 0)):
        auth.append("%s:%s" % (c.string(), c.string()))
    name = PACKET_TYPES.get(ptype, str(ptype))
    text = "%s zxid=0x%x" % (name, zxid & 0xFFFFFFFFFFFFFFFF)
    if data is None:
        text += " data=null"
    else:
        text += " data=%d bytes" % len(data)
    if count >= 0:
        text += " auth=[%s]" % ", ".join(auth)
    return c.pos, text, ptype


def parse_snapshot(buf):
    c = Cursor(buf)
    sessions = c.i32()
    for _ in range(max(sessions, 0)):
        c.take(12)
    acls = c.i32()
    for _ in range(max(acls, 0)):
        c.i64()
        n = c.i32()
        for _ in range(max(n, 0)):
            c.i32()
            c.string()
            c.string()
    nodes = 0
    while True:
        path = c.string()
        if path == "/":
            break
        c.buffer()
        c.take(8 + 60)  # acl id, StatPersisted
        nodes += 1
    sig = c.string()
    return c.pos, "snapshot: %d sessions, %d ACL lists, %d nodes, signature %r" % (
        max(sessions, 0), max(acls, 0), nodes, sig)


# --- recording ----------------------------------------------------------------------------------

class Fixture:
    def __init__(self, path, prefix):
        self.file = open(path, "w", encoding="utf-8")
        self.prefix = prefix
        self.lock = threading.Lock()
        self.count = 0

    def next_conn(self):
        with self.lock:
            self.count += 1
            return "%s%d" % (self.prefix, self.count)

    def line(self, text):
        with self.lock:
            if not self.file.closed:
                self.file.write(text + "\n")
                self.file.flush()

    def close(self):
        with self.lock:
            self.file.close()


class Connection:
    def __init__(self, proxy, name, client, upstream):
        self.proxy, self.name, self.client, self.upstream = proxy, name, client, upstream
        self.closed = threading.Event()
        self.lock = threading.Lock()

    def start(self):
        for src, dst, d in ((self.client, self.upstream, "c2s"), (self.upstream, self.client, "s2c")):
            threading.Thread(target=self.pump, args=(src, dst, d), daemon=True).start()

    def pump(self, src, dst, direction):
        buf = b""
        state = {"initial": direction == "c2s", "snap": False, "raw": False}
        try:
            while not self.closed.is_set():
                chunk = src.recv(65536)
                if not chunk:
                    self.shut("%s closed by %s" % (direction, "client" if direction == "c2s" else "server"))
                    return
                buf += chunk
                while buf:
                    if state["raw"]:
                        self.proxy.fixture.line("# %s %s unparsed bytes: %s" % (self.name, direction, buf.hex()))
                        self.send(dst, direction, buf)
                        buf = b""
                        break
                    try:
                        n, out = self.proxy.next_message(self, direction, buf, state)
                    except Incomplete:
                        break
                    except BadStream as e:
                        self.proxy.fixture.line("# %s %s stream not understood (%s); raw from here" % (
                            self.name, direction, e))
                        state["raw"] = True
                        continue
                    buf = buf[n:]
                    self.send(dst, direction, out)
        except OSError as e:
            self.shut("%s: %s" % (direction, e))

    def send(self, dst, direction, data):
        if direction == "s2c" and self.proxy.hold_s2c.is_set():
            return  # held back: never delivered (the fixture still has it, marked)
        dst.sendall(data)

    def shut(self, why):
        with self.lock:
            if self.closed.is_set():
                return
            self.closed.set()
        if why:
            self.proxy.fixture.line("# %s closed: %s" % (self.name, why))
        for s in (self.client, self.upstream):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.proxy.forget(self)


class PeerProxy:
    """A proxy in front of one server's election or quorum port."""

    def __init__(self, kind, sid, upstream_port, fixture, election_proxy_ports):
        self.kind, self.sid, self.upstream_port, self.fixture = kind, sid, upstream_port, fixture
        self.election_proxy_ports = election_proxy_ports  # sid -> election proxy port (for the rewrite)
        self.hold_s2c = threading.Event()
        self.conns = []
        self.lock = threading.Lock()
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]

    def start(self):
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()  # server down: the peer sees a refused/closed connection, as without us
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            name = self.fixture.next_conn()
            conn = Connection(self, name, client, upstream)
            with self.lock:
                self.conns.append(conn)
            self.fixture.line("# %s opened: peer -> server.%d %s port" % (name, self.sid, self.kind))
            conn.start()

    def next_message(self, conn, direction, buf, state):
        """Parses one message from buf; records it; returns (length, bytes to forward)."""
        held = " (held, never delivered)" if direction == "s2c" and self.hold_s2c.is_set() else ""
        if self.kind == "election":
            if state["initial"]:
                n, text, sid, addr = parse_initial(buf)
                state["initial"] = False
                raw = buf[:n]
                self.fixture.line("%s %s %s  # %s" % (conn.name, direction, raw.hex(), text))
                if addr is not None and sid in self.election_proxy_ports:
                    host = addr.rsplit(":", 1)[0]
                    return n, rewrite_initial(raw, n, "%s:%d" % (host, self.election_proxy_ports[sid]))
                return n, raw
            n, text = parse_election_frame(buf)
        else:
            if state["snap"]:
                n, text = parse_snapshot(buf)
                state["snap"] = False
            else:
                n, text, ptype = parse_packet(buf)
                state["snap"] = direction == "s2c" and ptype == SNAP
        self.fixture.line("%s %s %s  # %s%s" % (conn.name, direction, buf[:n].hex(), text, held))
        return n, buf[:n]

    def drop_all(self, why):
        with self.lock:
            live = list(self.conns)
        for c in live:
            self.fixture.line("# %s dropped by proxy (%s)" % (c.name, why))
            c.shut(None)

    def forget(self, conn):
        with self.lock:
            if conn in self.conns:
                self.conns.remove(conn)

    def stop(self):
        self.listener.close()
        self.drop_all("proxy stopping")
