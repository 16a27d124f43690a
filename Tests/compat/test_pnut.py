"""pnut.io's poll API, driven by the real pnutpy against running daemons (`/pnut/v1`).

pnut's rules, not the native ones: positions count from 1, a response replaces the last one and an
empty one clears it, polls are private and anonymous unless created otherwise, `respondents` show
to the creator, to a respondent and after close. pnutpy reads `meta.code` (never the HTTP status)
and can send a poll token only inside the position (`"2?poll_token=T"`). Upstream facts:
../shared/seeds/pnut-polls.md and ../shared/DIALECTS.md."""
import json
import time
import urllib.error
import urllib.request

import pnutpy
import pytest
from pnutpy.errors import PnutAuthAPIException, PnutBadRequestAPIException, PnutMissing, PnutPermissionDenied

from conftest import ORGANIZER, mint


# The `daemons` fixture (conftest.py): two daemons sharing Redis, on which voters may create polls.
DAEMON_AUTH = "voters_create_polls = true"


def api(daemon, token=None, trailing_slash=False):
    return pnutpy.API.build_api(api_root=f"{daemon.url}/pnut/v1" + ("/" if trailing_slash else ""), access_token=token)


def create(daemon, token=ORGANIZER, **fields):
    poll = {"type": "io.tally.test", "prompt": "Best act?", "options": [{"text": "Ada"}, {"text": "Bo"}, {"text": "Cy"}],
            "duration": 10, **fields}
    return api(daemon, token).create_poll(data=poll)


def respondents(poll):
    return [option.get("respondents") for option in poll.options]


def test_a_public_poll_is_created_read_and_responded_to_by_position(daemons):
    daemon = daemons[0]
    poll, meta = create(daemon, is_public=True, max_options=2)
    assert meta.code == 201 and isinstance(poll.id, str) and poll.type == "io.tally.test" and poll.prompt == "Best act?"
    assert [(o.text, o.position) for o in poll.options] == [("Ada", 1), ("Bo", 2), ("Cy", 3)]
    assert poll.is_public is True and poll.is_anonymous is True and poll.max_options == 2 and "poll_token" not in poll
    assert poll.closed_at > poll.created_at

    ann = api(daemon, mint("ann"))
    before, _ = ann.get_poll(poll.id)
    assert respondents(before) == [None, None, None], "respondents show to respondents, the creator, or after close"
    answered, meta = ann.respond_to_poll(poll.id, 2)
    assert meta.code == 200 and [o.is_your_response for o in answered.options] == [False, True, False]
    assert respondents(answered) == [0, 1, 0]
    changed, _ = ann.respond_to_poll(poll.id, "1,3")
    assert [o.is_your_response for o in changed.options] == [True, False, True] and respondents(changed) == [1, 0, 1]
    with pytest.raises(PnutBadRequestAPIException):
        ann.respond_to_poll(poll.id, "1,2,3")  # more than max_options
    with pytest.raises(PnutBadRequestAPIException):
        ann.respond_to_poll(poll.id, 4)
    with pytest.raises(PnutBadRequestAPIException):
        ann.respond_to_poll(poll.id, 0)
    assert respondents(ann.get_poll(poll.id)[0]) == [1, 0, 1], "a refused response changed nothing"
    assert respondents(api(daemon, ORGANIZER).get_poll(poll.id)[0]) == [1, 0, 1], "organizers see the counts"
    # pnutpy joins api_root and path as they are: a trailing slash gives //polls.
    assert api(daemon, mint("bob"), trailing_slash=True).respond_to_poll(poll.id, 1)[0].options[0].respondents == 2


def test_a_private_poll_needs_its_token_which_pnutpy_can_only_send_inside_the_position(daemons):
    daemon = daemons[0]
    poll, _ = create(daemon)  # private and anonymous by default
    assert poll.is_public is False and len(poll.poll_token) == 32
    cat = api(daemon, mint("cat"))
    with pytest.raises(PnutMissing):
        cat.get_poll(poll.id)
    with pytest.raises(PnutMissing):
        cat.respond_to_poll(poll.id, 1)
    with pytest.raises(PnutMissing):
        cat.respond_to_poll(poll.id, "1?poll_token=" + "0" * 32)
    answered, _ = cat.respond_to_poll(poll.id, f"3?poll_token={poll.poll_token}")
    assert answered.options[2].is_your_response and answered.poll_token == poll.poll_token
    read = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{daemon.url}/pnut/v1/polls/{poll.id}?poll_token={poll.poll_token}", headers={"Authorization": f"Bearer {mint('cat')}"})).read())
    assert read["meta"]["code"] == 200 and read["data"]["options"][2]["is_your_response"] is True
    assert read["data"]["poll_token"] == poll.poll_token, "shown to a caller who passed it"
    cleared = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{daemon.url}/pnut/v1/polls/{poll.id}/response?poll_token={poll.poll_token}&positions=", method="PUT",
        headers={"Authorization": f"Bearer {mint('cat')}"})).read())
    assert [o["is_your_response"] for o in cleared["data"]["options"]] == [False, False, False], "empty positions clear"


def test_a_poll_that_is_not_anonymous_names_its_respondents_and_closes(daemons):
    first, second = daemons
    poll, _ = create(first, token=mint("dan"), is_public=True, is_anonymous=False, duration=1)
    assert poll.is_anonymous is False
    dan = api(first, mint("dan"))
    assert respondents(dan.get_poll(poll.id)[0]) == [0, 0, 0], "the creator sees the counts"
    api(second, mint("eve")).respond_to_poll(poll.id, 2)
    api(first, mint("fay")).respond_to_poll(poll.id, 2)
    read, _ = dan.get_poll(poll.id)
    assert read.options[1].respondents == 2 and sorted(read.options[1].respondent_ids) == ["eve", "fay"]
    assert read.options[0].respondent_ids == []
    assert api(first, mint("eve")).get_poll(poll.id)[0].options[1].is_your_response is True, "responded through the other daemon"

    outsider = api(second, mint("gil"))
    assert respondents(outsider.get_poll(poll.id)[0]) == [None, None, None], "not a respondent: no counts while open"
    closing = urllib.request.Request(f"{first.url}/v1/polls/{poll.id}/close", method="POST",
                                     headers={"Authorization": f"Bearer {ORGANIZER}"})
    assert urllib.request.urlopen(closing).status == 200
    for _ in range(100):  # the other daemon hears of the close through Redis' pub/sub
        closed, _ = outsider.get_poll(poll.id)
        if closed.options[0].get("respondents") is not None:
            break
        time.sleep(0.02)
    assert respondents(closed) == [0, 2, 0] and sorted(closed.options[1].respondent_ids) == ["eve", "fay"], "after close"
    with pytest.raises(PnutBadRequestAPIException):
        api(first, mint("gil")).respond_to_poll(poll.id, 1)  # closed

    with pytest.raises(PnutPermissionDenied):
        api(first, mint("eve")).delete_poll(poll.id)
    deleted, meta = dan.delete_poll(poll.id)
    assert meta.code == 200 and deleted.id == poll.id
    with pytest.raises(PnutMissing):
        dan.get_poll(poll.id)


def test_errors_carry_pnuts_envelope_and_pnutpy_raises_its_exceptions(daemons):
    daemon = daemons[0]
    with pytest.raises(PnutAuthAPIException):
        create(daemon, token="not-a-token")
    with pytest.raises(PnutBadRequestAPIException) as bad:
        create(daemon, options=[{"text": "only one"}])
    assert "options" in str(bad.value)
    with pytest.raises(PnutBadRequestAPIException):
        create(daemon, duration=20161)
    with pytest.raises(PnutBadRequestAPIException):
        create(daemon, prompt="x" * 257)
    # Numbers and booleans as strings, as pnut's own example sends them; options ordered by position.
    spelled, _ = create(daemon, duration="60", is_public="true", max_options="2",
                        options=[{"text": "last", "position": 3}, {"text": "first", "position": 1}, {"text": "middle", "position": 2}])
    assert spelled.is_public is True and spelled.max_options == 2 and [o.text for o in spelled.options] == ["first", "middle", "last"]
    with pytest.raises(PnutMissing):
        api(daemon, mint("gus")).get_poll("999999")
    with pytest.raises(PnutAuthAPIException):
        api(daemon).respond_to_poll("1", 1)
    request = urllib.request.Request(f"{daemon.url}/pnut/v1/nowhere")
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request)
    assert missing.value.code == 404 and json.loads(missing.value.read())["meta"] == {"code": 404, "error_message": "Not found."}


def test_the_callers_polls_and_polls_by_ids(daemons):
    daemon = daemons[0]
    mine = [create(daemon, token=mint("hal"), is_public=True)[0] for _ in range(3)]
    private, _ = create(daemon, token=mint("ivy"))
    polls, meta = api(daemon, mint("hal")).get_my_polls(count=2)
    assert [p.id for p in polls] == [mine[2].id, mine[1].id] and meta.more is True
    ids = ",".join([mine[0].id, private.id, "999999"])
    listed = json.loads(urllib.request.urlopen(f"{daemon.url}/pnut/v1/polls?ids={ids}").read())
    assert [p["id"] for p in listed["data"]] == [mine[0].id], "a private poll without its token, and a missing one, are left out"
    listed = json.loads(urllib.request.urlopen(f"{daemon.url}/pnut/v1/polls?ids={ids}&poll_token_{private.id}={private.poll_token}").read())
    assert [p["id"] for p in listed["data"]] == [mine[0].id, private.id]
