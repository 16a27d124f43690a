"""Calls tallyd's Lua scripts in a Redis, pipelined, over a plain socket (no client library). The
sources are read from Sources/TallyStore/VoteScript.swift and CloseScript.swift.

    script_calls.py PORT prepare-votes [SHARDS]
                                               a poll of 4 options with 100 000 stored ballots,
                                               spread over SHARDS shards (1: the poll's own keys)
    script_calls.py PORT votes VOTES CALLS [SHARDS]
                                               CALLS vote-script calls of VOTES votes each (4 in 5
                                               by new voters, 1 in 5 revotes of stored ballots),
                                               each into one shard, in turn
    script_calls.py PORT prepare-polls POLLS   POLLS open polls of 4 options with votes, all ended
    script_calls.py PORT close POLLS           the close script over them, 200 polls per call
"""
import hashlib
import pathlib
import re
import socket
import sys

SOURCES = pathlib.Path(__file__).resolve().parents[2] / "Sources/TallyStore"
POLL, BALLOTS = "{p:bench}:poll", "{p:bench}:ballots"
STORED = 99_960  # stored ballots: a multiple of every shard count used, so voter i is in shard i % shards


def shard_keys(shard, shards):
    """A shard's keys: the poll's own for one shard (`KeySchema`)."""
    tag = "p:bench" if shards == 1 else f"p:bench:{shard}"
    return f"{{{tag}}}:poll", f"{{{tag}}}:ballots"
VOTES_SENT = "{p:bench}:votes-sent"  # numbers the votes across runs, so no run re-sends another's voters
ENDED = 1_000_000  # µs since the epoch: long past


def script_source(file):
    body = re.search(r'source = #?"""\n(.*?)\n\s*"""', (SOURCES / file).read_text(), re.S).group(1)
    return "\n".join(line[8:] for line in body.split("\n"))


def command(*arguments):
    parts = [f"*{len(arguments)}\r\n".encode()]
    for argument in arguments:
        data = str(argument).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class Redis:
    def __init__(self, port):
        self.connection = socket.create_connection(("127.0.0.1", port))
        self.stream = self.connection.makefile("rb")
        self.error = None

    def pipeline(self, commands, depth=50):
        """Sends the commands `depth` at a time and reads their replies; False after an error."""
        for first in range(0, len(commands), depth):
            chunk = commands[first:first + depth]
            self.connection.sendall(b"".join(chunk))
            for _ in chunk:
                self._read()
            if self.error:
                return False
        return True

    def _read(self):
        line = self.stream.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"-":
            self.error = self.error or rest.decode()
        elif kind == b"$" and int(rest) >= 0:
            return self.stream.read(int(rest) + 2)[:-2]
        elif kind == b"*":
            return [self._read() for _ in range(max(int(rest), 0))]
        return rest

    def call(self, *arguments):
        """One command's reply."""
        self.connection.sendall(command(*arguments))
        return self._read()

    def load(self, source):
        """Loads (compiles) a script before anything is counted."""
        self.pipeline([command("SCRIPT", "LOAD", source)])


def main():
    port, phase = int(sys.argv[1]), sys.argv[2]
    redis = Redis(port)
    if phase == "prepare-votes":
        shards = int(sys.argv[3]) if len(sys.argv) > 3 else 1
        commands = [command("HSET", shard_keys(shard, shards)[0], "state", "open", "options", 4, "maxVotes", 1, "revote", 1,
                            "closesAt", "", "closesOnEnd", 1) for shard in range(shards)]
        for first in range(0, STORED, 1_020):
            pairs = {}
            for voter in range(first, min(first + 1_020, STORED)):
                pairs.setdefault(voter % shards, []).extend([f"old-{voter}", f"{1 << (voter % 4):016x}"])
            commands += [command("HSET", shard_keys(shard, shards)[1], *values) for shard, values in pairs.items()]
        redis.pipeline(commands)
        redis.load(script_source("VoteScript.swift"))
    elif phase == "votes":
        votes, calls = int(sys.argv[3]), int(sys.argv[4])
        shards = int(sys.argv[5]) if len(sys.argv) > 5 else 1
        sha = hashlib.sha1(script_source("VoteScript.swift").encode()).hexdigest()
        commands, vote = [], int(redis.call("INCRBY", VOTES_SENT, votes * calls)) - votes * calls
        for call in range(calls):
            shard, voters, ballots = call % shards, [], []
            for _ in range(votes):
                vote += 1
                # A revote by a voter stored in this shard.
                voters.append(f"old-{(vote * shards + shard) % STORED}" if vote % 5 == 0 else f"new-{vote}")
                ballots.append(f"{1 << ((vote * 7) % 4):016x}")
            # The deadline (Redis' time in µs) far ahead: the calls are counted, not timed out.
            commands.append(command("EVALSHA", sha, 2, *shard_keys(shard, shards), 2**62, *voters, *ballots))
        redis.pipeline(commands)
    elif phase == "prepare-polls":
        redis.pipeline([command("HSET", f"{{p:{poll}}}:poll", "state", "open", "options", 4, "maxVotes", 1,
                                "revote", 0, "closesAt", ENDED, "closesOnEnd", 1, "version", 5, "voters", 100,
                                0, 40, 1, 30, 2, 20, 3, 10)
                        for poll in range(int(sys.argv[3]))])
        redis.load(script_source("CloseScript.swift"))
    elif phase == "close":
        polls, source = int(sys.argv[3]), script_source("CloseScript.swift")
        commands = []
        for first in range(0, polls, 200):
            ids = range(first, min(first + 200, polls))
            keys = [f"{{p:{poll}}}:poll" for poll in ids]
            per_poll = [value for poll in ids for value in (poll, ENDED, 4)]
            commands.append(command("EVAL", source, 1 + len(keys), "tally:closed", *keys, 1_000_000, *per_poll))
        redis.pipeline(commands, depth=2)
    if redis.error:
        sys.exit(f"redis: {redis.error}")


main()
