"""Decodes ZooKeeper client-protocol frame bodies into one-line summaries for fixture comments.

Only for annotating captures: it knows the records the Apache 3.8 Java client and server exchange
(zookeeper.jute), tracks xid -> opcode per connection to decode replies, and raises on anything it
does not understand (the proxy then writes "(undecoded: ...)"). Standard library only.
"""

import struct

OPCODES = {
    0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
    6: "getACL", 7: "setACL", 8: "getChildren", 9: "sync", 11: "ping", 12: "getChildren2",
    13: "check", 14: "multi", 15: "create2", 16: "reconfig", 17: "checkWatches",
    18: "removeWatches", 19: "createContainer", 20: "deleteContainer", 21: "createTTL",
    22: "multiRead", 100: "auth", 101: "setWatches", 102: "sasl", 103: "getEphemerals",
    104: "getAllChildrenNumber", 105: "setWatches2", 106: "addWatch", 107: "whoAmI",
    -10: "createSession", -11: "closeSession", -1: "error",
}

ERRORS = {
    0: "OK", -1: "SystemError", -2: "RuntimeInconsistency", -3: "DataInconsistency",
    -4: "ConnectionLoss", -5: "MarshallingError", -6: "Unimplemented", -7: "OperationTimeout",
    -8: "BadArguments", -13: "NewConfigNoQuorum", -14: "ReconfigInProgress",
    -15: "UnknownSession", -100: "APIError", -101: "NoNode", -102: "NoAuth", -103: "BadVersion",
    -108: "NoChildrenForEphemerals", -110: "NodeExists", -111: "NotEmpty",
    -112: "SessionExpired", -113: "InvalidCallback", -114: "InvalidACL", -115: "AuthFailed",
    -118: "SessionMoved", -119: "NotReadOnly", -120: "EphemeralOnLocalSession", -121: "NoWatcher",
    -122: "RequestTimeout", -123: "ReconfigDisabled", -124: "SessionClosedRequireSasl",
    -125: "QuotaExceeded", -127: "Throttled",
}

EVENT_TYPES = {
    -1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged", 4: "NodeChildrenChanged",
    5: "DataWatchRemoved", 6: "ChildWatchRemoved", 7: "PersistentWatchRemoved",
}

KEEPER_STATES = {
    -1: "Unknown", 0: "Disconnected", 1: "NoSyncConnected", 3: "SyncConnected", 4: "AuthFailed",
    5: "ConnectedReadOnly", 6: "SaslAuthenticated", -112: "Expired", 7: "Closed",
}

CREATE_MODES = {
    0: "PERSISTENT", 1: "EPHEMERAL", 2: "PERSISTENT_SEQUENTIAL", 3: "EPHEMERAL_SEQUENTIAL",
    4: "CONTAINER", 5: "PERSISTENT_WITH_TTL", 6: "PERSISTENT_SEQUENTIAL_WITH_TTL",
}

ADD_WATCH_MODES = {0: "PERSISTENT", 1: "PERSISTENT_RECURSIVE"}

NOTIFICATION_XID = -1
PING_XID = -2
AUTH_XID = -4
SET_WATCHES_XID = -8


class Reader:
    """Jute primitives, big-endian."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated at byte %d (need %d more)" % (self.pos, n))
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self):
        return struct.unpack(">i", self.take(4))[0]

    def long(self):
        return struct.unpack(">q", self.take(8))[0]

    def bool(self):
        return self.take(1)[0] != 0

    def buffer(self):
        n = self.int()
        return None if n < 0 else self.take(n)

    def string(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8")

    def vector(self, item):
        n = self.int()
        return None if n < 0 else [item() for _ in range(n)]

    def remaining(self):
        return len(self.data) - self.pos

    def done(self):
        if self.remaining():
            raise ValueError("%d trailing bytes" % self.remaining())


def hexid(v):
    return "0x%x" % (v & 0xFFFFFFFFFFFFFFFF)


def show_data(b):
    if b is None:
        return "null"
    try:
        text = b.decode("utf-8")
        if text.isprintable():
            return '"%s"' % text
    except UnicodeDecodeError:
        pass
    return "0x" + b.hex()


def acl(r):
    perms, scheme, ident = r.int(), r.string(), r.string()
    return "%s:%s:%d" % (scheme, ident, perms)


def stat(r):
    czxid, mzxid, ctime, mtime = r.long(), r.long(), r.long(), r.long()
    version, cversion, aversion = r.int(), r.int(), r.int()
    owner, dlen, nchildren, pzxid = r.long(), r.int(), r.int(), r.long()
    return ("stat{czxid=%s mzxid=%s ctime=%d mtime=%d version=%d cversion=%d aversion=%d "
            "ephemeralOwner=%s dataLength=%d numChildren=%d pzxid=%s}"
            % (hexid(czxid), hexid(mzxid), ctime, mtime, version, cversion, aversion,
               hexid(owner), dlen, nchildren, hexid(pzxid)))


def strings(r):
    return "[%s]" % ", ".join(r.vector(r.string) or [])


def create_req(r, op):
    path, data = r.string(), r.buffer()
    acls = r.vector(lambda: acl(r))
    flags = r.int()
    out = "path=%s data=%s acl=[%s] flags=%d(%s)" % (path, show_data(data), ", ".join(acls or []),
                                                    flags, CREATE_MODES.get(flags, "?"))
    if op == 21:
        out += " ttl=%d" % r.long()
    return out


def request_body(op, r):
    """Summary of a request record (after the RequestHeader) for opcode `op`."""
    if op in (1, 15, 19, 21):
        return create_req(r, op)
    if op in (2, 13):
        return "path=%s version=%d" % (r.string(), r.int())
    if op in (3, 4, 8, 12):
        return "path=%s watch=%s" % (r.string(), str(r.bool()).lower())
    if op == 5:
        return "path=%s data=%s version=%d" % (r.string(), show_data(r.buffer()), r.int())
    if op == 7:
        path = r.string()
        acls = r.vector(lambda: acl(r))
        return "path=%s acl=[%s] version=%d" % (path, ", ".join(acls or []), r.int())
    if op in (6, 9, 20, 103, 104):
        return "path=%s" % r.string()
    if op in (17, 18):
        return "path=%s type=%d" % (r.string(), r.int())
    if op in (14, 22):
        parts = []
        while True:
            typ, done, err = r.int(), r.bool(), r.int()
            if done:
                parts.append("done(type=%d err=%d)" % (typ, err))
                break
            parts.append("%s{%s}" % (OPCODES.get(typ, typ), request_body(typ, r)))
        return "ops=[%s]" % "; ".join(parts)
    if op == 100:
        typ, scheme, auth = r.int(), r.string(), r.buffer()
        return "type=%d scheme=%s auth=%s" % (typ, scheme, show_data(auth))
    if op in (101, 105):
        out = "relativeZxid=%s data=%s exist=%s child=%s" % (hexid(r.long()), strings(r), strings(r), strings(r))
        if op == 105:
            out += " persistent=%s persistentRecursive=%s" % (strings(r), strings(r))
        return out
    if op == 106:
        path, mode = r.string(), r.int()
        return "path=%s mode=%d(%s)" % (path, mode, ADD_WATCH_MODES.get(mode, "?"))
    if op in (11, -11, 107):
        return ""
    raise ValueError("no request decoder for opcode %d" % op)


def response_body(op, r):
    """Summary of a successful reply record (after the ReplyHeader) to opcode `op`."""
    if op in (1, 9):
        return "path=%s" % r.string()
    if op in (15, 19, 21):
        return "path=%s %s" % (r.string(), stat(r))
    if op in (3, 5, 7):
        return stat(r)
    if op == 4:
        return "data=%s %s" % (show_data(r.buffer()), stat(r))
    if op == 6:
        acls = r.vector(lambda: acl(r))
        return "acl=[%s] %s" % (", ".join(acls or []), stat(r))
    if op in (8, 103):
        return "children=%s" % strings(r)
    if op == 12:
        return "children=%s %s" % (strings(r), stat(r))
    if op == 104:
        return "count=%d" % r.int()
    if op in (14, 22):
        parts = []
        while True:
            typ, done, err = r.int(), r.bool(), r.int()
            if done:
                parts.append("done(type=%d err=%d)" % (typ, err))
                break
            if typ == -1:
                code = r.int()
                extra = "" if code == err else " header.err=%d" % err
                parts.append("error{err=%d(%s)%s}" % (code, ERRORS.get(code, "?"), extra))
            elif typ in (2, 13):
                parts.append("%s{}" % OPCODES[typ])
            else:
                parts.append("%s{%s}" % (OPCODES.get(typ, typ), response_body(typ, r)))
        return "results=[%s]" % "; ".join(parts)
    if op == 106:
        code = r.int()
        return "ErrorResponse{err=%d(%s)}" % (code, ERRORS.get(code, "?"))
    if op == 107:
        infos = r.vector(lambda: "%s:%s" % (r.string(), r.string()))
        return "clientInfo=[%s]" % ", ".join(infos or [])
    if op in (2, 11, 13, 17, 18, 100, 101, 105, -11):
        return ""
    raise ValueError("no reply decoder for opcode %d" % op)


class ConnectionDecoder:
    """Per-connection state: the first frame each way is the handshake; replies are matched by xid."""

    def __init__(self):
        self.seen = {"c2s": False, "s2c": False}
        self.pending = {}

    def decode(self, direction, body):
        r = Reader(body)
        first = not self.seen[direction]
        self.seen[direction] = True
        if first and direction == "c2s":
            out = "ConnectRequest protocolVersion=%d lastZxidSeen=%s timeOut=%d sessionId=%s passwd=%s" % (
                r.int(), hexid(r.long()), r.int(), hexid(r.long()), show_len(r.buffer()))
            out += readonly(r)
            r.done()
            return out
        if first and direction == "s2c":
            out = "ConnectResponse protocolVersion=%d timeOut=%d sessionId=%s passwd=%s" % (
                r.int(), r.int(), hexid(r.long()), show_len(r.buffer()))
            out += readonly(r)
            r.done()
            return out
        if direction == "c2s":
            xid, op = r.int(), r.int()
            self.pending[xid] = op
            body = request_body(op, r)
            r.done()
            return ("xid=%d %s %s" % (xid, OPCODES.get(op, op), body)).rstrip()
        xid, zxid, err = r.int(), r.long(), r.int()
        head = "xid=%d zxid=%s err=%d(%s)" % (xid, hexid(zxid), err, ERRORS.get(err, "?"))
        if xid == NOTIFICATION_XID:
            typ, state, path = r.int(), r.int(), r.string()
            r.done()
            return "notification %s %s %s path=%s" % (head, EVENT_TYPES.get(typ, typ),
                                                     KEEPER_STATES.get(state, state), path)
        op = self.pending.pop(xid, None)
        if op is None:
            return "reply %s (unknown xid)" % head
        name = OPCODES.get(op, op)
        if err != 0 and r.remaining() == 0:
            return "reply %s to %s" % (head, name)
        body = response_body(op, r)
        r.done()
        return ("reply %s to %s %s" % (head, name, body)).rstrip()


def show_len(b):
    return "null" if b is None else "%dB" % len(b)


def readonly(r):
    if r.remaining() == 0:
        return " (no readOnly byte)"
    return " readOnly=%s" % str(r.bool()).lower()
