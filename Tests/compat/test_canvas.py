"""Canvas' polls API (polls, choices, sessions, submissions), driven by the real canvasapi against
running daemons (`/canvas`).

Canvas' model: a poll is a question template with choices; each session (per course section) is
a Tally poll made from those choices, published with `open`, one submission per student; results
go to the teacher, and to students when public. canvasapi sends form bodies (`key[][field]`,
sometimes the singular name) and reads every answer as `json()[plural][0]`. Upstream facts:
../shared/seeds/canvas-poll-sessions.md, ../shared/DIALECTS.md, instructure/canvas-lms'
app/controllers/polling/* and app/serializers/polling/*."""
import json
import urllib.error
import urllib.request

import pytest
from canvasapi import Canvas
from canvasapi.exceptions import BadRequest, Forbidden, InvalidAccessToken, ResourceDoesNotExist

from conftest import ORGANIZER, mint

# The daemons listen on plain HTTP on loopback, which canvasapi warns about.
pytestmark = pytest.mark.filterwarnings("ignore:Canvas may respond unexpectedly:UserWarning")
# The `daemons` fixture (conftest.py): two daemons sharing Redis.


def canvas(daemon, token=ORGANIZER):
    return Canvas(f"{daemon.url}/canvas", token)


def teacher_poll(daemon, choices=("Red", "Green", "Blue")):
    poll = canvas(daemon).create_poll([{"question": "Favourite colour?", "description": "Pick one"}])
    made = [poll.create_choice([{"text": text, "is_correct": text == "Green", "position": n}]) for n, text in enumerate(choices, 1)]
    return poll, made


def test_a_poll_with_choices_and_two_sessions_takes_one_submission_per_student(daemons):
    first, second = daemons
    poll, choices = teacher_poll(first)
    assert isinstance(poll.id, int) and poll.question == "Favourite colour?" and poll.description == "Pick one"
    assert [(c.text, c.position, c.is_correct) for c in poll.get_choices()] == [("Red", 1, False), ("Green", 2, True), ("Blue", 3, False)]
    section_a = poll.create_session([{"course_id": 101, "course_section_id": 1}])
    section_b = poll.create_session([{"course_id": 101, "course_section_id": 2, "has_public_results": True}])
    assert section_a.is_published is False and section_a.course_id == 101 and section_a.course_section_id == 1
    assert section_a.results == {} and section_b.has_public_results is True

    ann = canvas(second, mint("ann")).get_poll(poll.id).get_session(section_a.id)
    with pytest.raises(BadRequest) as closed:
        ann.create_submission([{"poll_choice_id": choices[0].id}])
    assert "not open for submissions" in str(closed.value)
    opened = section_a.open()
    assert opened.is_published is True

    for student, choice in (("ann", 1), ("bob", 1), ("cat", 2)):
        session = canvas(second if student == "ann" else first, mint(student)).get_poll(poll.id).get_session(section_a.id)
        submitted = session.create_submission([{"poll_choice_id": choices[choice].id}])
        assert submitted.poll_choice_id == choices[choice].id and isinstance(submitted.id, int) and isinstance(submitted.user_id, int)
    with pytest.raises(BadRequest) as twice:
        ann.create_submission([{"poll_choice_id": choices[2].id}])
    assert "can only submit one choice per poll session." in str(twice.value)
    with pytest.raises(BadRequest):
        ann.create_submission([{"poll_choice_id": choices[1].id}])  # the same choice again

    results = poll.get_session(section_a.id)
    assert results.results == {str(choices[1].id): 2, str(choices[2].id): 1}
    assert len(results.poll_submissions) == 3, "the teacher sees every submission"
    mine = canvas(first, mint("ann")).get_poll(poll.id).get_session(section_a.id)
    assert mine.has_submitted is True and not hasattr(mine, "results"), "results are not public"
    assert [s.poll_choice_id for s in map(lambda s: type("S", (), s), mine.poll_submissions)] == [choices[1].id]
    assert poll.get_session(section_b.id).results == {}, "sessions count apart"
    totals = canvas(first).get_poll(poll.id).total_results  # Canvas: each choice id's submissions over all sessions
    assert sum(totals.values()) == 3 and totals == {str(choices[1].id): 2, str(choices[2].id): 1}
    assert not hasattr(canvas(first, mint("ann")).get_poll(poll.id), "total_results"), "for teachers only"

    closed_session = section_a.close()
    assert closed_session.is_published is False
    with pytest.raises(BadRequest):
        canvas(first, mint("dan")).get_poll(poll.id).get_session(section_a.id).create_submission([{"poll_choice_id": choices[0].id}])
    assert section_a.open().is_published is True, "a closed session can be opened again"


def test_public_results_show_to_students(daemons):
    daemon = daemons[0]
    poll, choices = teacher_poll(daemon, choices=("Yes", "No"))
    session = poll.create_session([{"course_id": 7, "has_public_results": "true"}])
    session.open()
    student = canvas(daemon, mint("eve")).get_poll(poll.id).get_session(session.id)
    student.create_submission([{"poll_choice_id": choices[0].id}])
    seen = canvas(daemon, mint("fay")).get_poll(poll.id).get_session(session.id)
    assert seen.results == {str(choices[0].id): 1} and seen.has_submitted is False
    assert "is_correct" not in vars(canvas(daemon, mint("fay")).get_poll(poll.id).get_choice(choices[0].id)), "only the owner sees is_correct"


def test_teachers_manage_and_students_may_not(daemons):
    daemon = daemons[0]
    poll, choices = teacher_poll(daemon, choices=("A", "B"))
    student = canvas(daemon, mint("gus"))
    with pytest.raises(Forbidden):
        student.create_poll([{"question": "Mine?"}])
    with pytest.raises(Forbidden):
        student.get_poll(poll.id).create_session([{"course_id": 1}])
    session = poll.create_session([{"course_id": 1}])
    with pytest.raises(Forbidden):
        student.get_poll(poll.id).get_session(session.id).open()
    with pytest.raises(InvalidAccessToken):
        canvas(daemon, "not-a-token").get_poll(poll.id)
    with pytest.raises(ResourceDoesNotExist):
        canvas(daemon).get_poll(999999)
    with pytest.raises(ResourceDoesNotExist):
        poll.get_choice(999999)

    updated = poll.update([{"question": "Renamed?"}])
    assert updated.question == "Renamed?" and canvas(daemon).get_poll(poll.id).question == "Renamed?"
    changed = choices[0].update([{"text": "A+", "position": 3}])
    assert changed.text == "A+" and [c.text for c in poll.get_choices()] == ["B", "A+"]
    later = poll.create_choice([{"text": "C"}])
    assert later.position == 4
    assert choices[1].delete() is True and [c.text for c in poll.get_choices()] == ["A+", "C"]
    assert session.delete() is True
    with pytest.raises(ResourceDoesNotExist):
        poll.get_session(session.id)
    assert poll.delete() is True
    with pytest.raises(ResourceDoesNotExist):
        canvas(daemon).get_poll(poll.id)


def test_lists_and_raw_errors(daemons):
    daemon = daemons[0]
    poll, choices = teacher_poll(daemon, choices=("Left", "Right"))
    session = poll.create_session([{"course_id": 3}])
    session.open()
    assert poll.id in [p.id for p in canvas(daemon).get_polls()]
    assert [s.id for s in poll.get_sessions()] == [session.id]
    opened = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{daemon.url}/canvas/api/v1/poll_sessions/opened", headers={"Authorization": f"Bearer {mint('hal')}"})).read())
    assert session.id in [s["id"] for s in opened["poll_sessions"]]
    created = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{daemon.url}/canvas/api/v1/polls", method="POST", data=json.dumps({"polls": [{"question": "As JSON?"}]}).encode(),
        headers={"Authorization": f"Bearer {ORGANIZER}", "Content-Type": "application/json"})).read())
    assert created["polls"][0]["question"] == "As JSON?", "JSON bodies are read too"
    with pytest.raises(BadRequest):
        canvas(daemon).get_poll(created["polls"][0]["id"]).create_session([{"course_id": 3}])  # no choices yet
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{daemon.url}/canvas/api/v1/polls")
    assert missing.value.code == 401 and "WWW-Authenticate" not in missing.value.headers
    assert json.loads(missing.value.read()) == {"status": "unauthenticated", "errors": [{"message": "user authorization required"}]}
    with pytest.raises(InvalidAccessToken):
        canvas(daemon, mint("ivy", ttl=-10)).get_poll(poll.id)  # expired
