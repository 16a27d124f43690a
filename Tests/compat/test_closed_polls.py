"""Closed polls leave a daemon's memory once nobody read them for `[server] keep_closed_s` (1 s in
these daemons: conftest.py) and come back on the request that needs them. Each dialect's real
client reads the same answers before and after, through the daemon that let go of the poll and
through another one sharing its Redis; listings that include closed polls still include them."""
import json
import urllib.error
import urllib.request

import pnutpy
import pytest
from canvasapi import Canvas
from mastodon import Mastodon

from conftest import ORGANIZER, mint, same_before_and_after, start_tallyd, stop_tallyd

pytestmark = pytest.mark.filterwarnings("ignore:Canvas may respond unexpectedly:UserWarning")


@pytest.fixture
def pair():
    """Two fresh daemons sharing one Redis, so each test's closed poll is the only one."""
    first, first_config = start_tallyd(auth="voters_create_polls = true")
    second, second_config = start_tallyd(auth="voters_create_polls = true", shared=(first.redis, first.redis_port))
    yield first, second
    stop_tallyd(second, second_config)
    stop_tallyd(first, first_config)


def raw(daemon, method, path, body=None, token=ORGANIZER, form=False):
    """(status, decoded JSON) of one call."""
    data = None if body is None else (urllib.parse.urlencode(body) if form else json.dumps(body)).encode()
    content = "application/x-www-form-urlencoded" if form else "application/json"
    headers = {"Content-Type": content} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(f"{daemon.url}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def close(daemon, poll_id):
    status, body = raw(daemon, "POST", f"/v1/polls/{poll_id}/close")
    assert status == 200, body


def test_mastodon(pair):
    first, _ = pair
    def client(daemon, token=None):
        return Mastodon(access_token=token, api_base_url=f"{daemon.url}/mastodon", version_check_mode="none")
    organizer = client(first, ORGANIZER)
    status = organizer.status_post("Best act?", poll=organizer.make_poll(["Ada", "Bo", "Cy"], expires_in=600, multiple=True))
    client(first, mint("ann")).poll_vote(status.poll.id, [0, 2])
    client(first, mint("bob")).poll_vote(status.poll.id, 1)
    close(first, status.poll.id)
    before = same_before_and_after(pair, [
        lambda d: client(d, mint("ann")).poll(status.poll.id),
        lambda d: client(d).status(status.id),
        lambda d: client(d, mint("cat")).poll_vote(status.poll.id, 0),
    ])
    assert '"own_votes": [0, 2]' in before[0][0] and "The poll has already ended" in before[0][2]


def test_pnut(pair):
    first, _ = pair
    def api(daemon, token):
        return pnutpy.API.build_api(api_root=f"{daemon.url}/pnut/v1", access_token=token)
    poll, _ = api(first, ORGANIZER).create_poll(data={
        "type": "io.tally.test", "prompt": "Best act?", "options": [{"text": "Ada"}, {"text": "Bo"}], "duration": 10,
        "is_public": True, "is_anonymous": False})
    api(first, mint("ann")).respond_to_poll(poll.id, 2)
    close(first, poll.id)
    before = same_before_and_after(pair, [
        lambda d: api(d, mint("ann")).get_poll(poll.id)[0],
        lambda d: api(d, ORGANIZER).get_poll(poll.id)[0],
        lambda d: raw(d, "GET", "/pnut/v1/users/me/polls"),  # newest first, closed ones included
        lambda d: api(d, mint("bob")).respond_to_poll(poll.id, 1),
    ])
    assert '"respondent_ids": ["ann"]' in before[0][1] and f'"id": "{poll.id}"' in before[0][2]


def test_canvas(pair):
    first, _ = pair
    def canvas(daemon, token=ORGANIZER):
        return Canvas(f"{daemon.url}/canvas", token)
    template = canvas(first).create_poll([{"question": "Favourite colour?"}])
    choices = [template.create_choice([{"text": text, "position": n}]) for n, text in enumerate(("Red", "Green"), 1)]
    session = template.create_session([{"course_id": 101, "course_section_id": 1, "has_public_results": True}])
    session.open()
    for student, choice in (("ann", 0), ("bob", 1)):
        canvas(first, mint(student)).get_poll(template.id).get_session(session.id).create_submission([{"poll_choice_id": choices[choice].id}])
    session.close()
    before = same_before_and_after(pair, [
        lambda d: canvas(d).get_poll(template.id).total_results,  # summed over the template's sessions
        lambda d: canvas(d).get_poll(template.id).get_session(session.id).results,
        lambda d: raw(d, "GET", "/canvas/api/v1/poll_sessions/closed", token=mint("ann")),
        lambda d: canvas(d, mint("cat")).get_poll(template.id).get_session(session.id).create_submission([{"poll_choice_id": choices[0].id}]),
    ])
    assert before[0][0] == json.dumps({str(choices[0].id): 1, str(choices[1].id): 1}, sort_keys=True)
    assert f'"id": {session.id}' in before[0][2] and "BadRequest" in before[0][3]


def test_content_polls(pair):
    first, _ = pair
    place = "workspace=PLAT&content=PLAT-7"
    body = {"title": "Stars?", "description": "", "options": [{"id": "1", "title": "one", "order": 0}, {"id": "2", "title": "two", "order": 1}],
            "settings": {"allowSelectionOfMultipleOptions": False, "resultsVisibility": "alwaysPublic", "endDate": "",
                         "hideAbsoluteNumbers": False, "allowRevote": False, "saveParticipantNames": False,
                         "closePollOnEndDate": False, "allowComment": False}}
    status, poll = raw(first, "POST", f"/content-polls?token={ORGANIZER}&type=polls&{place}", body)
    assert status == 200, poll
    assert raw(first, "POST", f"/v1/polls/{poll['tallyId']}/votes", {"choices": [1]}, token=mint("ann"))[0] == 200
    close(first, poll["tallyId"])
    before = same_before_and_after(pair, [
        lambda d: raw(d, "GET", f"/content-polls?token={ORGANIZER}&type=polls&{place}&pollId={poll['id']}&expand=results", token=None),
        lambda d: raw(d, "GET", f"/content-polls?token={ORGANIZER}&type=polls&{place}", token=None),
    ])
    assert before[0][1].count(poll["id"]) == 1 and '"voters": 1' in before[0][0]
