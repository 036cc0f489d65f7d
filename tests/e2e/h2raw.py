"""A few raw HTTP/2 frames for tests that must misbehave on the wire (what
no gRPC library will send): the client preface, frames with arbitrary
contents, and request headers as HPACK literals (no Huffman, no indexing),
enough to start a gRPC call by hand.  Only frame headers are parsed back.

Loopback only; every socket has a timeout.
"""
import select
import socket
import struct
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = \
    0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8, 0x9
END_STREAM, END_HEADERS = 0x1, 0x4


def frame(ftype, flags, stream, payload=b"", length=None):
    """One frame; `length` overrides the length field (to lie about it)."""
    n = len(payload) if length is None else length
    return struct.pack(">I", n)[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def _hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """A "literal header field without indexing, new name" (RFC 7541 6.2.2)."""
    name, value = name.encode(), value.encode()
    return b"\x00" + _hpack_int(len(name), 7) + name + _hpack_int(len(value), 7) + value


def grpc_request_headers(path, authority="localhost", extra=()):
    block = b"".join(hpack_literal(k, v) for k, v in (
        (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", authority),
        ("content-type", "application/grpc"), ("te", "trailers")) + tuple(extra))
    return block


def grpc_message(payload, compressed=False):
    return bytes([1 if compressed else 0]) + struct.pack(">I", len(payload)) + payload


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def start(port, window=None, timeout=5.0):
    """A connection after the preface and our SETTINGS (INITIAL_WINDOW_SIZE
    = window when given)."""
    s = connect(port, timeout)
    settings = b"" if window is None else struct.pack(">HI", 0x4, window)
    s.sendall(PREFACE + frame(SETTINGS, 0, 0, settings))
    return s


def read_frames(s, until_closed=True, limit=1 << 20, until=None):
    """Reads frames until the peer closes (or a GOAWAY when not until_closed,
    or until(frames) is true, or the socket's timeout).  Returns
    ([(type, flags, stream, payload)], closed)."""
    buf, frames, closed = b"", [], False
    while len(buf) < limit:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff,
                           buf[9:9 + n]))
            buf = buf[9 + n:]
        if not until_closed and any(f[0] == GOAWAY for f in frames):
            break
        if until and until(frames):
            break
    return frames, closed


def goaway_error(frames):
    """The error code of the first GOAWAY, or None."""
    for ftype, _, _, payload in frames:
        if ftype == GOAWAY and len(payload) >= 8:
            return int.from_bytes(payload[4:8], "big")
    return None


def send_declared(s, declared, limit, stream=1, reply_headers=None, stall=3.0, wait=30.0):
    """Sends one gRPC message whose prefix declares `declared` bytes, as fast
    as the peer's flow-control windows allow, until the stream is reset (or
    the connection goes away), `limit` bytes went out, or the windows stay
    shut for `stall` seconds.  `s` is past the preface; SETTINGS and PING
    are answered on the way.  As a client: on `stream`, whose HEADERS went
    out already.  As a server (reply_headers, an HPACK block): on the first
    stream the peer half-closes (within `wait` seconds), after
    reply_headers.  Returns (bytes sent, the RST_STREAM or GOAWAY error
    code, or None)."""
    conn_window = stream_window = initial = 65535
    if reply_headers is not None:
        stream = None
    sent, buf, reset, chunk = 0, b"", None, b"x" * 16384
    last_update = time.monotonic()
    give_up = last_update + wait
    while sent < limit and reset is None:
        try:
            if select.select([s], [], [], 0)[0]:
                got = s.recv(65536)
                if not got:
                    break
                buf += got
        except OSError:
            break
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            ftype, flags, sid, payload = buf[3], buf[4], \
                int.from_bytes(buf[5:9], "big") & 0x7fffffff, buf[9:9 + n]
            buf = buf[9 + n:]
            if ftype == WINDOW_UPDATE:
                grant = int.from_bytes(payload, "big") & 0x7fffffff
                if sid == 0:
                    conn_window += grant
                elif sid == stream:
                    stream_window += grant
                last_update = time.monotonic()
            elif ftype == RST_STREAM and sid == stream:
                reset = int.from_bytes(payload, "big")
            elif ftype == GOAWAY:
                reset = int.from_bytes(payload[4:8], "big")
            elif ftype == SETTINGS and not flags & 1:
                for i in range(0, len(payload) - 5, 6):
                    key, value = struct.unpack(">HI", payload[i:i + 6])
                    if key == 0x4:  # INITIAL_WINDOW_SIZE
                        stream_window += value - initial
                        initial = value
                s.sendall(frame(SETTINGS, 1, 0))
            elif ftype == PING and not flags & 1:
                s.sendall(frame(PING, 1, 0, payload))
            elif stream is None and ftype in (HEADERS, DATA) and flags & END_STREAM:
                stream = sid
                s.sendall(frame(HEADERS, END_HEADERS, stream, reply_headers))
        room = min(conn_window, stream_window)
        if stream is None or room <= 0:
            now = time.monotonic()
            if stream is None and now > give_up:
                break  # no call came
            if stream is not None and now - last_update > stall:
                break  # the windows stayed shut
            time.sleep(0.001)
            continue
        payload = chunk[:room]
        if sent == 0:
            payload = bytes([0]) + declared.to_bytes(4, "big") + payload[5:]
        try:
            s.sendall(frame(DATA, 0, stream, payload))  # the window has room: it is read
        except OSError:
            break
        sent += len(payload)
        conn_window -= len(payload)
        stream_window -= len(payload)
    return sent, reset
