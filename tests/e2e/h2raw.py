"""A few raw HTTP/2 frames for tests that must misbehave on the wire (what
no gRPC library will send): the client preface, frames with arbitrary
contents, and request headers as HPACK literals (no Huffman, no indexing),
enough to start a gRPC call by hand.  Only frame headers are parsed back.

Loopback only; every socket has a timeout.
"""
import socket
import struct

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
