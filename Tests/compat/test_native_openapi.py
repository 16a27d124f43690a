"""The native API's OpenAPI document is valid, and the running daemon keeps to it under fuzzing."""
import json
import os
import random
import subprocess
import urllib.request

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conftest import ORGANIZER, ROOT, mint

SPEC = os.path.join(ROOT, "Sources", "TallyAPI", "Native", "openapi.yaml")
CONFIG = os.path.join(os.path.dirname(__file__), "schemathesis.toml")
ORGANIZER_HEADERS = {"Authorization": f"Bearer {ORGANIZER}"}
# A signed voter token: its invalid forms are refused, so schemathesis' ignored-auth probes mean
# something. (A trusted proxy's X-Voter-Id has no invalid form: any id it asserts is a voter.)
VOTER_HEADERS = {"Authorization": f"Bearer {mint('fuzzer', ttl=24 * 3600)}"}


def test_openapi_document_is_valid():
    with open(SPEC) as file:
        validate(yaml.safe_load(file))


def test_daemon_conforms_as_organizer_including_methods_and_auth(tallyd):
    # positive_data_acceptance is left out: some rules cannot be said in a schema (an end date in
    # the future, maxVotes within the number of options, ballots that depend on the poll's rules),
    # so a schema-valid request may rightly get 400 or 422. Every other check runs.
    result = subprocess.run(
        ["st", "--config-file", CONFIG, "run", SPEC, "--url", tallyd.url, "-H", f"Authorization: Bearer {ORGANIZER}",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--max-examples", "60", "--seed", "1",
         # The results stream is a response that does not end: a fuzzer would wait on it forever.
         "--exclude-path-regex", "/stream$"],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert tallyd.process.poll() is None, "the daemon must survive the fuzzing"


# The configuration is loaded explicitly: pytest may run from any directory.
schema = schemathesis.openapi.from_path(SPEC, config=SchemathesisConfig.from_path(CONFIG)).exclude(
    path_regex="/stream$")  # a response that never ends


@pytest.fixture(scope="module")
def polls(request):
    """A daemon for the whole module and a few polls to aim generated requests at."""
    daemon = request.getfixturevalue("tallyd_module")
    ids = []
    for fields in ({}, {"maxVotes": 0, "revote": True}, {"private": True}, {"draft": True}):
        body = json.dumps({"question": "Q", "options": ["a", "b", "c"], **fields}).encode()
        call = urllib.request.Request(f"{daemon.url}/v1/polls", data=body, headers=ORGANIZER_HEADERS, method="POST")
        ids.append(json.load(urllib.request.urlopen(call))["id"])
    return daemon, ids


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_with_the_right_credential(case, polls):
    daemon, ids = polls
    if "id" in (case.path_parameters or {}) and random.random() < 0.66:
        case.path_parameters["id"] = random.choice(ids)
    voter_operation = case.path.endswith("/votes") or (case.method == "GET" and case.path.startswith("/v1/polls/"))
    headers = VOTER_HEADERS if voter_operation else ORGANIZER_HEADERS
    case.call_and_validate(base_url=daemon.url, headers=headers, excluded_checks=[positive_data_acceptance])
    assert daemon.process.poll() is None
