"""Calls tallyd's vote script in a Redis, pipelined, over a plain socket (no client library).

    vote_script_calls.py PORT prepare              a poll of 4 options with 100 000 stored ballots
    vote_script_calls.py PORT run VOTES CALLS      CALLS calls of VOTES votes each (4 in 5 by new
                                                   voters, 1 in 5 revotes of stored ballots)

The script's source is read from Sources/TallyStore/VoteScript.swift.
"""
import pathlib
import re
import socket
import sys

POLL, BALLOTS = "{p:bench}:poll", "{p:bench}:ballots"


def script_source():
    swift = pathlib.Path(__file__).resolve().parents[2] / "Sources/TallyStore/VoteScript.swift"
    body = re.search(r'source = #"""\n(.*?)\n\s*"""#', swift.read_text(), re.S).group(1)
    return "\n".join(line[8:] for line in body.split("\n"))


def command(*arguments):
    parts = [f"*{len(arguments)}\r\n".encode()]
    for argument in arguments:
        data = str(argument).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def replies(stream, count):
    """Reads `count` replies; returns the first error seen, if any."""
    error = None

    def read():
        nonlocal error
        line = stream.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            error = error or rest.decode()
        elif kind == b"$" and int(rest) >= 0:
            stream.read(int(rest) + 2)
        elif kind == b"*":
            for _ in range(max(int(rest), 0)):
                read()

    for _ in range(count):
        read()
    return error


def main():
    port, phase = int(sys.argv[1]), sys.argv[2]
    connection = socket.create_connection(("127.0.0.1", port))
    stream = connection.makefile("rb")
    if phase == "prepare":
        connection.sendall(command("HSET", POLL, "state", "open", "options", 4, "maxVotes", 1, "revote", 1,
                                   "closesAt", "", "closesOnEnd", 1))
        for first in range(0, 100_000, 1_000):
            pairs = []
            for voter in range(first, first + 1_000):
                pairs += [f"old-{voter}", f"{1 << (voter % 4):016x}"]
            connection.sendall(command("HSET", BALLOTS, *pairs))
        error = replies(stream, 101)
    else:
        votes, calls = int(sys.argv[3]), int(sys.argv[4])
        connection.sendall(command("SCRIPT", "LOAD", script_source()))
        stream.readline()  # the SHA-1 comes as a bulk string: its length, then its digits
        sha = stream.readline().strip().decode()
        vote = 0
        batch = []
        for _ in range(calls):
            arguments = []
            for _ in range(votes):
                vote += 1
                voter = f"old-{vote}" if vote % 5 == 0 else f"new-{vote}"
                arguments += [voter, f"{1 << ((vote * 7) % 4):016x}"]
            batch.append(command("EVALSHA", sha, 2, POLL, BALLOTS, *arguments))
        for first in range(0, calls, 50):
            chunk = batch[first:first + 50]
            connection.sendall(b"".join(chunk))
            error = replies(stream, len(chunk))
            if error:
                break
    if error:
        sys.exit(f"redis: {error}")


main()
