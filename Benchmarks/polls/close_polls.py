"""Closes polls 1 to N through tallyd's native API (`POST /v1/polls/{id}/close`), pipelined 100
requests at a time over one keep-alive connection, as a platform's history would have them.

    close_polls.py PORT ORGANIZER_TOKEN N
"""
import socket
import sys
import time

port, token, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
connection = socket.create_connection(("127.0.0.1", port))
started = time.perf_counter()
pending = b""
for first in range(1, total + 1, 100):
    ids = range(first, min(first + 100, total + 1))
    connection.sendall(b"".join(
        f"POST /v1/polls/{id}/close HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n".encode()
        for id in ids))
    answered = 0
    while answered < len(ids):
        chunk = connection.recv(1 << 20)
        if not chunk:
            sys.exit("tallyd closed the connection")
        pending += chunk
        while True:  # whole responses: head, then Content-Length bytes of body
            end = pending.find(b"\r\n\r\n")
            if end < 0:
                break
            head = pending[:end].decode()
            length = int(next(line.split(":")[1] for line in head.split("\r\n") if line.lower().startswith("content-length")))
            if len(pending) < end + 4 + length:
                break
            if not head.startswith("HTTP/1.1 200"):
                sys.exit(f"close: {head.splitlines()[0]}")
            pending = pending[end + 4 + length:]
            answered += 1
print(f"closed {total:,} polls at {total / (time.perf_counter() - started):,.0f}/s")
