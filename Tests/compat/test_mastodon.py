"""The Mastodon poll API, driven by the real Mastodon.py against running daemons (`/mastodon`).

Mastodon's rules, not the native ones: each vote adds choices to the voter's ballot, a choice made
already (or any second vote on a single-choice poll) is 422 "already voted", and a request with one
bad choice stores nothing. Upstream facts: ../shared/DIALECTS.md and mastodon/mastodon's
vote_validator.rb, poll_serializer.rb, config/locales/en.yml."""
import json
import time
import urllib.error
import urllib.request

import pytest
from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError, MastodonUnauthorizedError

from conftest import ORGANIZER, mint, start_tallyd, stop_tallyd

MODES = ["none", "created"]  # Mastodon.py 2.x's default, and 1.x's (reads the instance's version)


# The `daemons` fixture (conftest.py): two daemons sharing Redis, on which voters may create polls.
DAEMON_AUTH = "voters_create_polls = true"


def client(daemon, token=None, mode="none"):
    return Mastodon(access_token=token, api_base_url=f"{daemon.url}/mastodon", version_check_mode=mode)


def create(daemon, options=("Ada", "Bo", "Cy"), multiple=False, hide_totals=False, token=ORGANIZER, text="Best act?"):
    organizer = client(daemon, token)
    return organizer.status_post(text, poll=organizer.make_poll(list(options), expires_in=600, multiple=multiple,
                                                                 hide_totals=hide_totals))


def counts(poll):
    return [option.votes_count for option in poll.options]


@pytest.mark.parametrize("mode", MODES)
def test_a_status_with_a_poll_is_created_read_and_voted_on(daemons, mode):
    daemon = daemons[0]
    status = create(daemon)
    assert status.content == "<p>Best act?</p>" and status.visibility == "public"
    assert [option.title for option in status.poll.options] == ["Ada", "Bo", "Cy"]
    assert status.poll.multiple is False and status.poll.expired is False and status.poll.voters_count is None
    assert abs(status.poll.expires_at.timestamp() - time.time() - 600) < 5

    ann = client(daemon, mint("ann"), mode)
    voted = ann.poll_vote(status.poll.id, 1)
    assert voted.voted is True and voted.own_votes == [1] and counts(voted) == [0, 1, 0] and voted.votes_count == 1
    anonymous = json.loads(urllib.request.urlopen(f"{daemon.url}/mastodon/api/v1/polls/{status.poll.id}").read())
    assert "voted" not in anonymous and "own_votes" not in anonymous, "voted and own_votes only with a user token"
    assert [option["votes_count"] for option in anonymous["options"]] == [0, 1, 0]
    assert client(daemon, mint("ann"), mode).status(status.id).poll.own_votes == [1]

    with pytest.raises(MastodonAPIError) as second:
        ann.poll_vote(status.poll.id, 2)
    assert second.value.args[1] == 422 and second.value.args[3] == "Validation failed: You have already voted on this poll"
    with pytest.raises(MastodonAPIError) as two:
        client(daemon, mint("bob"), mode).poll_vote(status.poll.id, [0, 2])
    assert two.value.args[1] == 422, "two choices on a single-choice poll"
    assert counts(client(daemon).poll(status.poll.id)) == [0, 1, 0]


@pytest.mark.parametrize("mode", MODES)
def test_on_a_multiple_choice_poll_each_vote_adds_choices(daemons, mode):
    daemon = daemons[0]
    status = create(daemon, options=("a", "b", "c", "d"), multiple=True)
    cat = client(daemon, mint("cat"), mode)
    assert cat.poll_vote(status.poll.id, [0, 2]).own_votes == [0, 2]
    after = cat.poll_vote(status.poll.id, [3])
    assert after.own_votes == [0, 2, 3] and counts(after) == [1, 0, 1, 1]
    assert after.votes_count == 3 and after.voters_count == 1
    with pytest.raises(MastodonAPIError) as again:
        cat.poll_vote(status.poll.id, [1, 2])
    assert again.value.args[3] == "Validation failed: You have already voted on this poll"
    with pytest.raises(MastodonAPIError) as beyond:
        cat.poll_vote(status.poll.id, [1, 4])
    assert beyond.value.args[1] == 422 and beyond.value.args[3] == "Validation failed: The chosen vote option does not exist"
    assert cat.poll(status.poll.id).own_votes == [0, 2, 3], "a request with a bad choice stores nothing"


def test_hide_totals_hides_each_options_count_until_the_poll_ends(daemons):
    daemon = daemons[0]
    status = create(daemon, hide_totals=True)
    voted = client(daemon, mint("dan")).poll_vote(status.poll.id, 0)
    assert counts(voted) == [None, None, None] and voted.votes_count == 1


def test_an_ended_poll_refuses_votes(daemons):
    daemon = daemons[0]
    closing = json.dumps({"question": "Soon over?", "options": ["yes", "no"],
                          "closesAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1.5))}).encode()
    request = urllib.request.Request(f"{daemon.url}/v1/polls", data=closing, headers={"Authorization": f"Bearer {ORGANIZER}"})
    poll = json.loads(urllib.request.urlopen(request).read())["id"]
    time.sleep(2)
    assert client(daemon).poll(poll).expired is True
    with pytest.raises(MastodonAPIError) as ended:
        client(daemon, mint("eve")).poll_vote(poll, 0)
    assert ended.value.args[1] == 422 and ended.value.args[3] == "Validation failed: The poll has already ended"


def test_refusals_are_mastodons(daemons):
    daemon = daemons[0]
    status = create(daemon)
    with pytest.raises(MastodonUnauthorizedError) as bad:
        client(daemon, "not-a-token").poll_vote(status.poll.id, 0)
    assert bad.value.args[3] == "The access token is invalid"
    with pytest.raises(MastodonUnauthorizedError):
        client(daemon).poll_vote(status.poll.id, 0)
    with pytest.raises(MastodonNotFoundError) as missing:
        client(daemon, mint("fay")).poll_vote(987654321, 0)
    assert missing.value.args[3] == "Record not found"
    with pytest.raises(MastodonNotFoundError):
        client(daemon).poll(987654321)
    with pytest.raises(MastodonNotFoundError):
        client(daemon).status(987654321)
    # A voter's own poll (voters may create polls here).
    own = create(daemon, token=mint("gus"))
    assert own.account.username == "gus"
    with pytest.raises(MastodonAPIError) as self_vote:
        client(daemon, mint("gus")).poll_vote(own.poll.id, 0)
    assert self_vote.value.args[3] == "Validation failed: You cannot vote in your own polls"


def test_creation_limits_are_mastodons(daemons):
    daemon = daemons[0]
    for options, message in [(["one"], "Poll options must have more than one item"),
                             (["a", "b", "c", "d", "e"], "Poll options can't contain more than 4 items"),
                             (["a", "a"], "Poll options contain duplicate items"),
                             (["x" * 51, "b"], "Poll options cannot be longer than 50 characters each")]:
        with pytest.raises(MastodonAPIError) as refused:
            create(daemon, options=options)
        assert refused.value.args[1] == 422 and refused.value.args[3] == f"Validation failed: {message}"
    organizer = client(daemon, ORGANIZER)
    with pytest.raises(MastodonAPIError) as soon:
        organizer.status_post("Quick?", poll=organizer.make_poll(["a", "b"], expires_in=60))
    assert soon.value.args[3] == "Validation failed: Poll expires at is too soon"
    with pytest.raises(MastodonAPIError) as no_poll:
        organizer.status_post("Just a post")
    assert no_poll.value.args[1] == 422


def test_voters_need_permission_to_create(daemons):
    daemon, config = start_tallyd()  # voters_create_polls off
    try:
        with pytest.raises(MastodonAPIError) as forbidden:
            create(daemon, token=mint("hal"))
        assert forbidden.value.args[1] == 403
    finally:
        stop_tallyd(daemon, config)


def test_votes_and_own_votes_across_daemons(daemons):
    first, second = daemons
    status = create(first, options=("a", "b", "c"), multiple=True)
    ivy = mint("ivy")
    assert client(first, ivy).poll_vote(status.poll.id, [0]).own_votes == [0]
    # The second daemon has never seen ivy: Redis adds her new choice to the one she made there.
    assert client(second, ivy).poll_vote(status.poll.id, [2]).own_votes == [0, 2]
    assert client(first, ivy).poll(status.poll.id).own_votes == [0, 2]
    client(second, mint("jon")).poll_vote(status.poll.id, [1])
    with pytest.raises(MastodonAPIError) as again:  # the first daemon has never seen jon: Redis refuses
        client(first, mint("jon")).poll_vote(status.poll.id, [1])
    assert again.value.args[3] == "Validation failed: You have already voted on this poll"
    assert counts(client(second).poll(status.poll.id)) == [1, 1, 1]


def test_the_instance_says_which_api_it_speaks(daemons):
    daemon = daemons[0]
    instance = client(daemon).instance()
    assert instance.version.startswith("4.6.0 ") and "Tally" in instance.version
    assert instance.configuration.polls.max_options == 4
    assert client(daemon).instance_v2().api_versions.mastodon >= 1
    checked = client(daemon, mode="created")
    assert checked.retrieve_mastodon_version().startswith("4.6.0")


def test_no_rate_limit_or_deprecation_headers_and_unknown_paths_answer_in_mastodons_shape(daemons):
    daemon = daemons[0]
    status = create(daemon)
    with urllib.request.urlopen(f"{daemon.url}/mastodon/api/v1/polls/{status.poll.id}") as response:
        assert not [name for name in response.headers if name.lower().startswith(("x-ratelimit", "deprecation"))]
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(f"{daemon.url}/mastodon/api/v1/nope")
    assert unknown.value.code == 404 and json.loads(unknown.value.read()) == {"error": "Record not found"}


def test_form_and_json_bodies_with_numbers_as_strings(daemons):
    daemon = daemons[0]
    status = create(daemon, multiple=True)
    def post(body, content_type, voter):
        request = urllib.request.Request(f"{daemon.url}/mastodon/api/v1/polls/{status.poll.id}/votes", data=body,
                                         headers={"Authorization": f"Bearer {mint(voter)}", "Content-Type": content_type})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
    assert post(b'{"choices":["0",2]}', "application/json", "kim")[1]["own_votes"] == [0, 2]
    assert post(b"choices%5B%5D=1", "application/x-www-form-urlencoded", "lea")[1]["own_votes"] == [1]
    assert post(b"", "application/x-www-form-urlencoded", "max") == (400, {"error": "param is missing or the value is empty: choices"})
    assert post(b'{"choices":[0', "application/json", "ned")[0] == 400
