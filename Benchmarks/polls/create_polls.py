"""Creates polls through tallyd's native API, one after another over one keep-alive connection
(as an organizer's tool would), and prints the creates per second of each tenth of them; exits 1 if
the last tenth cost more than 1.3x the first.

    create_polls.py PORT ORGANIZER_TOKEN POLLS
"""
import http.client
import json
import sys
import time

port, token, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
step = max(1, total // 10)
rates = []
started = time.perf_counter()
for made in range(total):
    body = json.dumps({"question": f"Poll {made}?", "options": ["a", "b", "c"], "labels": {"show": f"s{made % 100}"}})
    connection.request("POST", "/v1/polls", body, headers)
    answer = connection.getresponse()
    answer.read()
    if answer.status != 201:
        sys.exit(f"create {made}: {answer.status}")
    if (made + 1) % step == 0:
        now = time.perf_counter()
        rates.append(step / (now - started))
        print(f"  polls {made + 1 - step:>9,}-{made + 1:<9,} {rates[-1]:>8,.0f} creates/s", flush=True)
        started = now
print(f"last tenth / first tenth: {rates[-1] / rates[0]:.2f}x creates/s")
# The target: a create costs the same with many polls held (the last tenth at most 1.3x the first).
if rates[0] / rates[-1] > 1.3:
    sys.exit(f"creates got slower: the last tenth cost {rates[0] / rates[-1]:.2f}x the first (target: at most 1.3x)")
