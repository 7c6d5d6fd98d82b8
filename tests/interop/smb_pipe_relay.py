#!/usr/bin/python3
"""Relays DCE/RPC connections from a Unix socket to a named pipe on an SMB server, through
Samba's own SMB client library (python3-samba's libsmb), so that a client without an
`ncacn_np` transport can call an interface a server registers on named pipes only.

    /usr/bin/python3 tests/interop/smb_pipe_relay.py SMB_CONF HOST USER PASSWORD PIPE SOCKET

Connects to HOST's IPC$ as USER (anonymously when USER is empty) for every connection accepted
on SOCKET (one at a time), opens PIPE and moves whole PDUs: each PDU the client sends is one
SMB write; after a request's last fragment, a bind or an alter-context, the answer is read
until its last fragment. Nothing is interpreted beyond the common header (C706 12.6.3: type,
flags, data representation, fragment length). Prints "ready" once listening; runs until
killed. Errors go to stderr (stdout is read only up to "ready"). Exit status 2 when
python3-samba is missing.
"""

import os
import socket
import struct
import sys

try:
    from samba import credentials
    from samba.samba3 import libsmb_samba_internal as libsmb
    from samba.samba3 import param as s3param
except ImportError as e:
    print("FAIL: python3-samba is missing (%s)" % e, flush=True)
    sys.exit(2)

REQUEST, BIND, ALTER_CONTEXT = 0, 11, 14
PFC_LAST_FRAG = 0x02


def frag_length(header):
    little = (header[4] & 0xF0) == 0x10
    return struct.unpack("<H" if little else ">H", header[8:10])[0]


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def serve(sock, conn, fnum):
    while True:
        header = recv_exact(sock, 16)
        if header is None:
            return
        rest = recv_exact(sock, frag_length(header) - 16)
        if rest is None:
            return
        conn.write(fnum, header + rest, 0)
        ptype, flags = header[2], header[3]
        answered = ptype in (BIND, ALTER_CONTEXT) or (
            ptype == REQUEST and flags & PFC_LAST_FRAG)
        if not answered:
            continue
        pending = b""
        while True:
            pending += conn.read(fnum, 0, 65536)
            done = False
            while len(pending) >= 16 and len(pending) >= frag_length(pending):
                n = frag_length(pending)
                pdu, pending = pending[:n], pending[n:]
                sock.sendall(pdu)
                done = bool(pdu[3] & PFC_LAST_FRAG)
            if done and not pending:
                break


def main():
    conf, host, user, password, pipe, path = sys.argv[1:7]
    lp = s3param.get_context()
    lp.load(conf)
    creds = credentials.Credentials()
    creds.guess(lp)
    if user:
        creds.set_username(user)
        creds.set_password(password)
    else:
        creds.set_anonymous()
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(4)
    print("ready", flush=True)
    while True:
        sock, _ = server.accept()
        try:
            conn = libsmb.Conn(host, "IPC$", lp, creds)
            fnum = conn.create(pipe, DesiredAccess=0x0012019F, ShareAccess=3,
                               CreateDisposition=1)
            serve(sock, conn, fnum)
            conn.close(fnum)
        except Exception as e:  # the client sees its connection close
            print("relay: %s" % (e,), file=sys.stderr, flush=True)
        finally:
            sock.close()


if __name__ == "__main__":
    main()
