"""Nextcloud Talk's poll API (OCS), driven by the real nc-py-api (its async client) against running
daemons (`/nextcloud`).

Talk's rules, not the native ones: a vote replaces the caller's ballot and an empty list withdraws
it; results show to a voter who voted on a public poll, to everyone after close; the author and
moderators see how many voted; a closed public poll lists who chose what. Upstream facts:
../shared/DIALECTS.md and nextcloud/spreed's PollController.php and PollService.php.

nc-py-api installs urllib3-future, which replaces `urllib3` for a whole Python environment: this
file runs in a virtual environment of its own (scripts/test), apart from the rest of Tests/compat."""
import asyncio
import base64
import json
import urllib.error
import urllib.request

import pytest
from nc_py_api import AsyncNextcloud, NextcloudException

from conftest import ORGANIZER, mint, same_before_and_after


# The `daemons` fixture (conftest.py): two daemons sharing Redis, on which voters may create polls.
DAEMON_AUTH = "voters_create_polls = true"


def talk(daemon, user, password=None):
    """nc-py-api's Talk client as `user` (password: that voter's token, or an organizer token)."""
    return AsyncNextcloud(nextcloud_url=f"{daemon.url}/nextcloud", nc_auth_user=user, nc_auth_pass=password or mint(user)).talk


def moderator(daemon):
    return talk(daemon, "mod", ORGANIZER)


LOOP = asyncio.new_event_loop()  # one loop for every call: a client keeps its connections on it


def run(coroutine):
    return LOOP.run_until_complete(coroutine)


def raw(daemon, method, path, body=None, user="mod", password=ORGANIZER, headers=None, version="v2"):
    """A request without nc-py-api: (HTTP status, parsed body)."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        f"{daemon.url}/nextcloud/ocs/{version}.php/apps/spreed/api/v1{path}", method=method,
        data=None if body is None else body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {credentials}", "OCS-APIRequest": "true", "Content-Type": "application/json",
                 **(headers or {})})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def status_of(call):
    with pytest.raises(NextcloudException) as raised:
        run(call)
    return raised.value.status_code


def test_votes_replace_and_withdraw_and_results_follow_talks_visibility(daemons):
    daemon = daemons[0]
    poll = run(moderator(daemon).create_poll("room1", "Which talk next?", ["Rust", "Swift", "Go"], hidden_results=False,
                                             max_votes=2))
    assert poll.question == "Which talk next?" and poll.options == ["Rust", "Swift", "Go"]
    assert not poll.closed and not poll.hidden_results and poll.max_votes == 2 and poll.voted_self == []
    assert poll.actor_type == "users" and poll.actor_id == "mod" and poll.actor_display_name == "mod"

    voted = run(talk(daemon, "ann").vote_poll([0, 1], poll))
    assert voted.voted_self == [0, 1] and voted.votes == {"option-0": 1, "option-1": 1} and voted.num_voters == 1
    run(talk(daemon, "bob").vote_poll([1], poll))
    # Before voting, a participant sees no results; the moderator sees how many voted, not what.
    unseen = run(talk(daemon, "cat").get_poll(poll))
    assert not unseen.votes and unseen.num_voters == 0 and unseen.voted_self == []
    watched = run(moderator(daemon).get_poll(poll))
    assert not watched.votes and watched.num_voters == 2

    changed = run(talk(daemon, "ann").vote_poll([2], poll))
    assert changed.voted_self == [2] and changed.votes == {"option-1": 1, "option-2": 1}, "a vote replaces the last one"
    withdrawn = run(talk(daemon, "bob").vote_poll([], poll))
    assert withdrawn.voted_self == [] and not withdrawn.votes and withdrawn.num_voters == 0
    assert run(talk(daemon, "ann").get_poll(poll)).votes == {"option-2": 1} and run(talk(daemon, "ann").get_poll(poll)).num_voters == 1

    closed = run(moderator(daemon).close_poll(poll))
    assert closed.closed and closed.votes == {"option-2": 1} and closed.num_voters == 1
    assert [(d.actor_id, d.option, d.actor_type) for d in closed.details] == [("ann", 2, "users")]
    later = run(talk(daemon, "cat").get_poll(poll))
    assert later.closed and later.votes == {"option-2": 1} and [d.actor_display_name for d in later.details] == ["ann"]


def test_a_single_choice_hidden_poll_shows_results_only_after_close(daemons):
    daemon = daemons[0]
    poll = run(talk(daemon, "dan").create_poll("room2", "Lunch?", ["Pizza", "Soup"]))  # nc-py-api: hidden, 1 vote
    assert poll.hidden_results and poll.max_votes == 1 and poll.actor_id == "dan"
    voted = run(talk(daemon, "eve").vote_poll([1], poll))
    assert voted.voted_self == [1] and not voted.votes and voted.num_voters == 0, "hidden until closed"
    assert status_of(talk(daemon, "eve").vote_poll([0, 1], poll)) == 400, "single choice"
    assert run(talk(daemon, "dan").get_poll(poll)).num_voters == 1, "the author sees how many voted"

    assert status_of(talk(daemon, "eve").close_poll(poll)) == 403, "only the author or a moderator closes"
    closed = run(talk(daemon, "dan").close_poll(poll))
    assert closed.closed and closed.votes == {"option-1": 1} and closed.num_voters == 1
    assert closed.details == [], "a hidden poll publishes only the summary"
    assert status_of(talk(daemon, "dan").close_poll(poll)) == 400, "already closed"
    assert status_of(talk(daemon, "eve").vote_poll([0], poll)) == 400, "closed"


def test_errors_raise_with_talks_status_codes(daemons):
    daemon = daemons[0]
    poll = run(moderator(daemon).create_poll("room3", "Pick", ["a", "b", "c"], hidden_results=False, max_votes=2))
    fay = talk(daemon, "fay")
    assert status_of(fay.vote_poll([0, 1, 2], poll)) == 400, "more than maxVotes"
    assert status_of(fay.vote_poll([1, 1], poll)) == 400, "a repeated id"
    assert status_of(fay.vote_poll([3], poll)) == 400, "no such option"
    assert status_of(fay.vote_poll([-1], poll)) == 400
    assert status_of(fay.get_poll(poll.poll_id, "another-room")) == 404, "a poll is found only in its own room"
    assert status_of(fay.vote_poll([0], poll.poll_id, "another-room")) == 404
    assert status_of(fay.get_poll(999999, "room3")) == 404
    assert status_of(talk(daemon, "fay", mint("gus")).get_poll(poll)) == 401, "the token is another voter's"
    assert status_of(talk(daemon, "fay", "not-a-token").vote_poll([0], poll)) == 401
    assert run(fay.get_poll(poll)).voted_self == [], "nothing was stored"

    # What nc-py-api cannot show: the bodies.
    assert raw(daemon, "POST", "/poll/room3", {"question": "  ", "options": ["a", "b"]})[1]["ocs"]["data"] == {"error": "question"}
    assert raw(daemon, "POST", "/poll/room3", {"question": "Q", "options": ["a", " "]})[1]["ocs"]["data"] == {"error": "options"}
    assert raw(daemon, "POST", "/poll/room3", {"question": "Q", "options": ["a", 2]})[1]["ocs"]["data"] == {"error": "options"}
    status, body = raw(daemon, "POST", f"/poll/room3/{poll.poll_id}", {"optionIds": [9]}, user="fay", password=mint("fay"))
    assert status == 400 and body["ocs"] == {"meta": {"status": "failure", "statuscode": 400, "message": ""}, "data": []}
    assert raw(daemon, "POST", f"/poll/room3/{poll.poll_id}", b"{", user="fay", password=mint("fay"))[0] == 400
    status, body = raw(daemon, "GET", f"/poll/room3/{poll.poll_id}", headers={"OCS-APIRequest": ""})
    assert status == 412 and body == {"message": "CSRF check failed"}
    status, _ = raw(daemon, "GET", f"/poll/room3/{poll.poll_id}", headers={"OCS-APIRequest": "", "Authorization": f"Bearer {ORGANIZER}"})
    assert status == 200, "a bearer token passes Nextcloud's CSRF check without the header"
    status, body = raw(daemon, "POST", "/poll/room3", {"question": "Q", "options": ["a", "b"], "maxVotes": 9})
    assert status == 201 and body["ocs"]["data"]["maxVotes"] == 2, "more than the options is no limit, kept within them"
    assert raw(daemon, "GET", "/nowhere")[0] == 404


def test_the_v1_endpoint_answers_200_and_says_the_status_in_meta(daemons):
    daemon = daemons[0]
    status, body = raw(daemon, "POST", "/poll/room4", {"question": "Q", "options": ["a", "b"], "resultMode": 0, "maxVotes": 1},
                       version="v1")
    assert status == 200 and body["ocs"]["meta"]["status"] == "ok" and body["ocs"]["meta"]["statuscode"] == 201
    poll_id = body["ocs"]["data"]["id"]
    status, body = raw(daemon, "POST", f"/poll/room4/{poll_id}", {"optionIds": [0]}, user="hal", password=mint("hal"), version="v1")
    assert status == 200 and body["ocs"]["meta"]["statuscode"] == 100 and body["ocs"]["data"]["votedSelf"] == [0]
    status, body = raw(daemon, "POST", f"/poll/room4/{poll_id}", {"optionIds": [5]}, user="hal", password=mint("hal"), version="v1")
    assert status == 200 and body["ocs"]["meta"] == {"status": "failure", "statuscode": 400, "message": "", "totalitems": "",
                                                     "itemsperpage": ""}


def test_drafts_are_for_moderators(daemons):
    daemon = daemons[0]
    status, body = raw(daemon, "POST", "/poll/room5", {"question": "Later?", "options": ["a", "b"], "resultMode": 0,
                                                       "maxVotes": 0, "draft": True})
    assert status == 200 and body["ocs"]["data"]["status"] == 2 and "votes" not in body["ocs"]["data"]
    draft = body["ocs"]["data"]["id"]
    assert raw(daemon, "POST", "/poll/room5", {"question": "Q", "options": ["a", "b"], "draft": True}, user="ivy",
               password=mint("ivy"))[1]["ocs"]["data"] == {"error": "draft"}
    assert [d["id"] for d in raw(daemon, "GET", "/poll/room5/drafts")[1]["ocs"]["data"]] == [draft]
    assert raw(daemon, "GET", "/poll/room5/drafts", user="ivy", password=mint("ivy"))[0] == 403
    assert status_of(talk(daemon, "ivy").get_poll(draft, "room5")) == 404, "a draft is not there for participants"
    assert status_of(talk(daemon, "ivy").vote_poll([0], draft, "room5")) == 404
    assert raw(daemon, "DELETE", f"/poll/room5/{draft}")[0] == 202, "closing a draft deletes it"
    assert raw(daemon, "GET", "/poll/room5/drafts")[1]["ocs"]["data"] == []


def test_a_second_daemon_sharing_redis_sees_the_same_polls_and_ballots(daemons):
    first, second = daemons
    poll = run(moderator(first).create_poll("room6", "Shared?", ["yes", "no"], hidden_results=False))
    assert run(talk(second, "jan").vote_poll([1], poll.poll_id, "room6")).voted_self == [1]
    seen = run(talk(first, "jan").get_poll(poll))
    assert seen.voted_self == [1] and seen.votes == {"option-1": 1}, "the ballot stored through the other daemon"
    assert run(talk(first, "jan").vote_poll([0], poll)).votes == {"option-0": 1}, "the revote replaced it, not added to it"
    closed = run(moderator(second).close_poll(poll.poll_id, "room6"))
    assert [(d.actor_id, d.option) for d in closed.details] == [("jan", 0)]


def test_the_server_documents_nc_py_api_reads(daemons):
    daemon = daemons[0]

    async def documents():
        client = AsyncNextcloud(nextcloud_url=f"{daemon.url}/nextcloud", nc_auth_user="kim", nc_auth_pass=mint("kim"))
        return await client.talk.available, await client.user, (await client.srv_version)["major"]

    assert run(documents()) == (True, "kim", 31)


def test_a_closed_poll_let_go_of_answers_as_before_on_both_daemons(daemons):
    """conftest.py's daemons let go of a closed poll nobody read for 1 s; it comes back on request."""
    first, _ = daemons
    poll = run(moderator(first).create_poll("room9", "Keep?", ["a", "b"], hidden_results=False))
    run(talk(first, "ann").vote_poll([1], poll))
    run(moderator(first).close_poll(poll))
    before = same_before_and_after(daemons, [
        lambda d: raw(d, "GET", f"/poll/room9/{poll.poll_id}", user="ann", password=mint("ann")),
        lambda d: raw(d, "GET", f"/poll/room9/{poll.poll_id}"),
        lambda d: raw(d, "POST", f"/poll/room9/{poll.poll_id}", {"optionIds": [0]}, user="bob", password=mint("bob")),
        lambda d: run(talk(d, "ann").get_poll(poll)).votes,
    ])
    assert '"actorId": "ann"' in before[0][1] and before[0][3] == '{"option-1": 1}'
