"""The content-polls REST API of the Jira/Confluence app (`/content-polls`), driven over HTTP against
running daemons. The app has no client library: these tests replay the document's requests and
responses (../shared/seeds/content-polls-rest.md; its examples are copied below) field by field,
then what Tally adds: votes through the native API with the Poll's `tallyId`, and
`expand=results`."""
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from conftest import ORGANIZER, mint

# The `daemons` fixture (conftest.py): two daemons sharing Redis.

# The document's Poll, as its GET response example has it (ids 1-5, in this field order).
DOCUMENT_POLL = json.loads("""
{
    "settings": {
        "allowSelectionOfMultipleOptions": false,
        "resultsVisibility": "alwaysPublic",
        "endDate": "",
        "hideAbsoluteNumbers": false,
        "allowRevote": false,
        "saveParticipantNames": false,
        "closePollOnEndDate": false,
        "allowComment": false
    },
    "options": [
        {"id": "1", "title": "⭐", "order": 0},
        {"id": "2", "title": "⭐⭐", "order": 1},
        {"id": "3", "title": "⭐⭐⭐", "order": 2},
        {"id": "4", "title": "⭐⭐⭐⭐", "order": 3},
        {"id": "5", "title": "⭐⭐⭐⭐⭐", "order": 4}
    ],
    "description": "Simple scoring from 1 to 5 stars",
    "id": "ee9107b5-5041-4c15-8c76-f14404fa1fad",
    "title": "Stars from ⭐ to ⭐⭐⭐⭐⭐"
}""")
# The POST body example: the same without `id`; the PUT body example puts `id` last.
POST_BODY = {key: value for key, value in DOCUMENT_POLL.items() if key != "id"}
PUT_BODY = {**POST_BODY, "id": DOCUMENT_POLL["id"]}
FIELD_ORDER = ["settings", "options", "description", "id", "title", "tallyId"]
SETTINGS_ORDER = list(DOCUMENT_POLL["settings"])

JIRA = {"workspace": "PLAT", "content": "PLAT-254604"}  # the document's example: no container
CONFLUENCE = {"workspace": "98306", "content": "1867777", "container": "c2c9f5e4-macro"}


def call(daemon, method, body=None, token=ORGANIZER, headers=None, raw=None, **query):
    """(status, decoded JSON or None, headers) of one call to the endpoint."""
    params = {"token": token, "type": "polls", **query}
    url = f"{daemon.url}/content-polls?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None, answer.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def native(daemon, method, path, body=None, token=ORGANIZER):
    request = urllib.request.Request(f"{daemon.url}{path}", data=json.dumps(body).encode() if body is not None else None,
                                     method=method, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def vote(daemon, poll, voter, *choices):
    """A vote through the native API (choice i is the poll's i-th option)."""
    return native(daemon, "POST", f"/v1/polls/{poll['tallyId']}/votes", {"choices": list(choices)}, token=mint(voter))[0]


def create(daemon, place=JIRA, known_to=None, **settings):
    """A poll made from the document's example with `settings` changed; with `known_to`, once that
    daemon has it too (daemons learn of each other's polls through Redis within milliseconds)."""
    body = json.loads(json.dumps(POST_BODY))
    body["settings"].update(settings)
    status, poll, _ = call(daemon, "POST", body, **place)
    assert status == 200, poll
    if known_to:
        assert eventually(lambda: call(known_to, "GET", pollId=poll["id"], **place)[0], lambda s: s == 200) == 200
    return poll


def eventually(read, check, seconds=3.0):
    """What `read` returns once `check` holds (results on another daemon follow within ~250 ms)."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if check(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_the_documents_jira_examples_replayed(daemons):
    first, second = daemons
    status, created, headers = call(first, "POST", POST_BODY, **JIRA)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert list(created) == FIELD_ORDER and list(created["settings"]) == SETTINGS_ORDER
    assert all(list(option) == ["id", "title", "order"] for option in created["options"])
    expected = {**DOCUMENT_POLL, "id": created["id"], "tallyId": created["tallyId"]}
    assert created == expected
    assert uuid.UUID(created["id"]).version == 8 and created["id"] == str(uuid.UUID(created["id"]))
    assert isinstance(created["tallyId"], str) and created["tallyId"].isdigit()

    status, listed, _ = eventually(lambda: call(second, "GET", **JIRA), lambda answer: answer[1])  # the other daemon: the same poll
    assert status == 200 and listed == [expected]
    assert call(second, "GET", pollId=created["id"], **JIRA)[1] == expected
    assert call(first, "GET", pollId=created["id"].upper(), **JIRA)[1] == expected, "UUIDs compare without case"

    put = json.loads(json.dumps(PUT_BODY))  # the document's PUT body, carrying the example's own id
    put["title"] = "Stars, again"
    status, updated, _ = call(second, "PUT", put, pollId=created["id"], **JIRA)
    assert status == 200 and updated == {**expected, "title": "Stars, again"}, "the query's pollId names the poll"
    assert eventually(lambda: call(first, "GET", **JIRA)[1], lambda listed: listed == [updated]) == [updated]

    status, body, _ = call(first, "DELETE", pollId=created["id"], **JIRA)
    assert status == 200 and body is None
    assert eventually(lambda: call(second, "GET", pollId=created["id"], **JIRA)[0], lambda s: s == 404) == 404
    assert call(second, "GET", **JIRA)[1] == []
    assert native(first, "GET", f"/v1/polls/{created['tallyId']}")[0] == 404, "its engine poll is gone too"


def test_confluence_pages_need_a_container_and_places_keep_their_polls_apart(daemons):
    daemon = daemons[0]
    page = create(daemon, place=CONFLUENCE)
    other_macro = create(daemon, place={**CONFLUENCE, "container": "another-macro"})
    jira = create(daemon, place={"workspace": "OPS", "content": "OPS-7"})
    assert [p["id"] for p in call(daemon, "GET", **CONFLUENCE)[1]] == [page["id"]]
    assert [p["id"] for p in call(daemon, "GET", **{**CONFLUENCE, "container": "another-macro"})[1]] == [other_macro["id"]]
    assert [p["id"] for p in call(daemon, "GET", workspace="OPS", content="OPS-7")[1]] == [jira["id"]]
    status, body, _ = call(daemon, "GET", workspace="98306", content="1867777")
    assert (status, body) == (400, {"error": "Bad request. Required field 'container' is not defined in query parameters"})
    for verb in ("GET", "PUT", "DELETE"):
        assert call(daemon, verb, PUT_BODY, pollId=page["id"], **{**CONFLUENCE, "container": "another-macro"})[0] == 404, \
            "a poll is found only in its own place"
    assert call(daemon, "GET", pollId=page["id"], workspace="OPS", content="OPS-7")[0] == 404


def test_each_documented_error_status(daemons):
    daemon = daemons[0]
    poll = create(daemon)
    forbidden = {"error": "Not permitted. 'token' is not provided or not valid"}
    for verb in ("GET", "POST", "PUT", "DELETE"):
        assert call(daemon, verb, POST_BODY, token=None, pollId=poll["id"], **JIRA)[:2] == (403, forbidden)
        assert call(daemon, verb, POST_BODY, token="wrong", pollId=poll["id"], **JIRA)[:2] == (403, forbidden)
        assert call(daemon, verb, POST_BODY, token=mint("ann"), pollId=poll["id"], **JIRA)[0] == 403, "a voter token is not one"
        for missing in ("type", "workspace", "content"):
            query = {"type": "polls", "pollId": poll["id"], **JIRA, missing: None}
            status, body, _ = call(daemon, verb, POST_BODY, **query)
            assert (status, body) == (400, {"error": f"Bad request. Required field '{missing}' is not defined in query parameters"})
        assert call(daemon, verb, POST_BODY, type="votes", **JIRA)[:2] == (400, {"error": "Bad request. 'type' must be 'polls'"})
    for verb in ("PUT", "DELETE"):
        status, body, _ = call(daemon, verb, PUT_BODY, **JIRA)
        assert (status, body) == (400, {"error": "Bad request. Required field 'pollId' is not defined in query parameters"})
    other_poll = native(daemon, "POST", "/v1/polls", {"question": "Native?", "options": ["a", "b"]})[1]
    made_up = str(uuid.UUID(poll["id"][:-12] + format(int(other_poll["id"]), "012x")))
    for verb in ("GET", "PUT", "DELETE"):
        for unknown in ("ee9107b5-5041-4c15-8c76-f14404fa1fad", "not-a-uuid", made_up):
            status, body, _ = call(daemon, verb, PUT_BODY, pollId=unknown, **JIRA)
            assert (status, body) == (404, {"error": "Not found. No poll with this 'pollId' in this content"}), (verb, unknown)
    status, body, headers = call(daemon, "PATCH", PUT_BODY, **JIRA)
    assert status == 405 and headers["Allow"] == "GET, HEAD, POST, PUT, DELETE" and "error" in body
    assert call(daemon, "GET", **JIRA)[1] == [poll], "nothing changed"


def test_bad_bodies_are_refused_by_name_and_change_nothing(daemons):
    daemon = daemons[0]
    poll = create(daemon, place={"workspace": "BAD", "content": "BAD-1"})
    place = {"workspace": "BAD", "content": "BAD-1"}
    cases = [
        (b"not json", "Bad request. the body must be a Poll: a JSON object"),
        (b"[]", "Bad request. the body must be a Poll: a JSON object"),
        ({"title": "", "options": [{"title": "a"}]}, "Bad request. 'title' must be a non-empty string of at most 500 characters"),
        ({"title": 5, "options": [{"title": "a"}]}, "Bad request. 'title' must be a non-empty string of at most 500 characters"),
        ({"title": "T", "options": []}, "Bad request. 'options' must list 1 to 64 options"),
        ({"title": "T", "options": [{"title": str(n)} for n in range(65)]}, "Bad request. 'options' must list 1 to 64 options"),
        ({"title": "T", "options": [{"id": 1, "title": "a"}]}, "Bad request. 'options[0].id' must be a string of 1 to 64 characters"),
        ({"title": "T", "options": [{"id": "1", "title": "a"}, {"id": "1", "title": "b"}]}, "Bad request. 'options[1].id' \"1\" is given twice"),
        ({"title": "T", "options": [{"title": "a", "order": "first"}]}, "Bad request. 'options[0].order' must be a whole number"),
        ({"title": "T", "options": ["a"]}, "Bad request. 'options[0]' must be an object with a title"),
        ({"title": "T", "options": [{"title": "a"}], "settings": {"allowRevote": "true"}}, "Bad request. 'settings.allowRevote' must be true or false"),
        ({"title": "T", "options": [{"title": "a"}], "settings": {"resultsVisibility": "sometimes"}},
         "Bad request. 'settings.resultsVisibility' must be one of 'alwaysPublic', 'publicAfterVote', 'publicAfterEndDate', 'notPublic'"),
        ({"title": "T", "options": [{"title": "a"}], "settings": {"endDate": "tomorrow"}},
         "Bad request. 'settings.endDate' must be \"\" (none) or an ISO 8601 time, e.g. 2026-12-24T18:00:00.000Z"),
        ({"title": "T", "options": [{"title": "a"}], "settings": []}, "Bad request. 'settings' must be an object"),
    ]
    for body, message in cases:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        assert call(daemon, "POST", raw=raw, **place)[:2] == (400, {"error": message}), body
        assert call(daemon, "PUT", raw=raw, pollId=poll["id"], **place)[:2] == (400, {"error": message}), body
    assert call(daemon, "GET", **place)[1] == [poll], "no poll made, none changed"


def test_settings_round_trip_and_map_onto_the_engine(daemons):
    first, second = daemons
    settings = {"allowSelectionOfMultipleOptions": True, "resultsVisibility": "publicAfterVote", "endDate": "2031-03-04T05:06:07.000Z",
                "hideAbsoluteNumbers": True, "allowRevote": True, "saveParticipantNames": True, "closePollOnEndDate": True,
                "allowComment": True}
    poll = create(first, known_to=second, **settings)
    assert poll["settings"] == settings
    assert call(second, "GET", pollId=poll["id"], **JIRA)[1]["settings"] == settings
    engine = native(second, "GET", f"/v1/polls/{poll['tallyId']}")[1]
    assert (engine["maxVotes"], engine["visibility"], engine["hideCounts"], engine["revote"], engine["anonymous"]) == (0, "afterVote", True, True, False)
    assert (engine["closesAt"], engine["closesOnEnd"], engine["state"]) == ("2031-03-04T05:06:07.000Z", True, "open")
    assert engine["question"] == POST_BODY["title"] and [o["title"] for o in engine["options"]] == [o["title"] for o in POST_BODY["options"]]

    for visibility, engine_name in (("alwaysPublic", "always"), ("publicAfterEndDate", "afterClose"), ("notPublic", "organizerOnly")):
        status, changed, _ = call(first, "PUT", {"settings": {"resultsVisibility": visibility, "allowSelectionOfMultipleOptions": False}},
                                  pollId=poll["id"], **JIRA)
        assert status == 200 and changed["settings"]["resultsVisibility"] == visibility
        assert changed["options"] == poll["options"] and changed["title"] == poll["title"], "fields left out keep their values"
        engine = eventually(lambda: native(second, "GET", f"/v1/polls/{poll['tallyId']}")[1], lambda e: e["visibility"] == engine_name)
        assert (engine["visibility"], engine["maxVotes"]) == (engine_name, 1)
    assert changed["settings"]["allowComment"] is True, "kept and returned (Tally stores no comments)"


def test_an_end_date_closes_the_poll_only_when_it_says_so(daemons):
    first, second = daemons
    soon = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 2)) + ".000Z"
    closing = create(first, known_to=second, endDate=soon, closePollOnEndDate=True)
    shown = create(first, known_to=second, endDate=soon, closePollOnEndDate=False)
    assert vote(second, closing, "ann", 0) == 200 and vote(second, shown, "ann", 0) == 200
    time.sleep(3.2)
    assert vote(second, closing, "bob", 1) == 409, "closed at its end date"
    assert vote(first, shown, "bob", 1) == 200, "still open: the end date is only shown"
    assert eventually(lambda: native(first, "GET", f"/v1/polls/{closing['tallyId']}")[1]["state"], lambda s: s == "closed") == "closed"
    assert call(first, "GET", pollId=shown["id"], **JIRA)[1]["settings"]["endDate"] == soon

    later = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600)) + ".000Z"
    status, reopened, _ = call(first, "PUT", {"settings": {"endDate": later}}, pollId=closing["id"], **JIRA)
    assert status == 200 and reopened["settings"]["endDate"] == later
    assert eventually(lambda: vote(second, closing, "bob", 1), lambda s: s == 200) == 200, "a later end date opens it again"


def test_options_change_freely_until_the_first_vote_then_only_titles_and_order(daemons):
    first, second = daemons
    poll = create(first, known_to=second)
    edited = [{"id": "5", "title": "five", "order": 0}, {"id": "2", "title": "two", "order": 1}, {"title": "new", "order": 2},
              {"id": "x", "title": "named", "order": 3}]
    status, changed, _ = call(second, "PUT", {"options": edited}, pollId=poll["id"], **JIRA)
    assert status == 200
    # Kept options keep their ids and their place among the choices; new ones follow; "new" gets the next number.
    assert changed["options"] == [{"id": "2", "title": "two", "order": 1}, {"id": "5", "title": "five", "order": 0},
                                  {"id": "6", "title": "new", "order": 2}, {"id": "x", "title": "named", "order": 3}]
    titles = lambda: [o["title"] for o in native(first, "GET", f"/v1/polls/{poll['tallyId']}")[1]["options"]]
    assert eventually(titles, lambda t: t[0] == "two") == ["two", "five", "new", "named"]

    assert vote(first, changed, "ann", 1) == 200  # "five"
    renamed = [{"id": "x", "title": "renamed", "order": 0}, {"id": "2", "title": "two", "order": 1}, {"id": "5", "title": "FIVE", "order": 2},
               {"id": "6", "title": "new", "order": 3}]
    status, after, _ = call(second, "PUT", {"options": renamed}, pollId=poll["id"], **JIRA)
    assert status == 200 and [(o["id"], o["title"], o["order"]) for o in after["options"]] == \
        [("2", "two", 1), ("5", "FIVE", 2), ("6", "new", 3), ("x", "renamed", 0)]
    # The first daemon edits next: once it has the second's change (else its edit is a conflict, 409).
    assert eventually(titles, lambda t: t[3] == "renamed")[1] == "FIVE"
    message = {"error": "Bad request. Options cannot be added or removed once the poll has votes; rename or reorder them instead"}
    assert call(first, "PUT", {"options": renamed + [{"title": "late"}]}, pollId=poll["id"], **JIRA)[:2] == (400, message)
    assert call(first, "PUT", {"options": renamed[1:]}, pollId=poll["id"], **JIRA)[:2] == (400, message)
    status, results, _ = call(first, "GET", pollId=poll["id"], expand="results", **JIRA)
    assert results["options"] == after["options"] and results["results"]["options"] == {"2": 0, "5": 1, "6": 0, "x": 0}, \
        "the vote stays with its option"


def results(daemon, poll, voter=None):
    headers = {"Authorization": f"Bearer {mint(voter)}"} if voter else {}
    return call(daemon, "GET", pollId=poll["id"], expand="results", headers=headers, **JIRA)[1]["results"]


def test_expanded_results_as_each_visibility_shows_them(daemons):
    first, second = daemons
    always = create(first, known_to=second, resultsVisibility="alwaysPublic")
    assert vote(second, always, "ann", 2) == 200
    shown = eventually(lambda: results(first, always, "bob"), lambda r: r["voters"] == 1)
    assert shown == {"visible": True, "unit": "votes", "options": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0}, "voters": 1, "ownChoices": []}
    assert results(first, always, "ann")["ownChoices"] == ["3"], "ann voted through the other daemon"
    listed = call(first, "GET", expand="results", **JIRA)[1]
    assert all("results" in poll for poll in listed) and "results" not in call(first, "GET", **JIRA)[1][0]

    after_vote = create(first, known_to=second, resultsVisibility="publicAfterVote")
    hidden = {"visible": False, "unit": "votes", "options": None, "voters": None, "ownChoices": []}
    assert results(first, after_vote, "ann") == hidden
    assert vote(second, after_vote, "ann", 0) == 200
    assert eventually(lambda: results(first, after_vote, "ann"), lambda r: r["voters"] == 1) == {"visible": True, "unit": "votes", "options": {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0},
                                                 "voters": 1, "ownChoices": ["1"]}
    assert results(first, after_vote, "bob") == hidden

    soon = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 2)) + ".000Z"
    after_end = create(first, known_to=second, resultsVisibility="publicAfterEndDate", endDate=soon)  # the end date only shown: voting goes on
    assert vote(second, after_end, "ann", 4) == 200
    assert results(first, after_end, "ann") == {**hidden, "ownChoices": ["5"]}
    time.sleep(2.5)
    assert results(first, after_end, "bob")["options"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}

    never = create(first, known_to=second, resultsVisibility="notPublic")
    assert vote(second, never, "ann", 1) == 200
    assert results(first, never, "ann") == {**hidden, "ownChoices": ["2"]}
    assert eventually(lambda: results(first, never), lambda r: r["voters"] == 1)["options"]["2"] == 1, "the organizer sees them"

    percent = create(first, known_to=second, hideAbsoluteNumbers=True)
    for voter, choice in (("ann", 0), ("bob", 0), ("cat", 0), ("dan", 1)):
        assert vote(second, percent, voter, choice) == 200
    shown = eventually(lambda: results(first, percent, "eve"), lambda r: r["options"]["1"] == 75)
    assert shown == {"visible": True, "unit": "percent", "options": {"1": 75, "2": 25, "3": 0, "4": 0, "5": 0}, "voters": None, "ownChoices": []}
    assert eventually(lambda: results(first, percent), lambda r: r["voters"] == 4)["options"]["1"] == 3, "organizers see numbers"

    assert call(first, "GET", pollId=always["id"], expand="results", headers={"Authorization": "Bearer forged"}, **JIRA)[:2] == \
        (403, {"error": "Not permitted. The voter token in the Authorization header is not valid"})
