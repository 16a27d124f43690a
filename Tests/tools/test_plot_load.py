"""scripts/plot-load turns a tally-load report into a PNG picture."""
import json
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def report(lost: int) -> dict:
    def percentiles(p50: float) -> dict:
        return {"p50": p50, "p90": p50 * 2, "p99": p50 * 4, "p999": p50 * 8, "max": p50 * 10}
    return {
        "url": "http://127.0.0.1:8080", "profile": "burst:3000:2", "durationSeconds": 3, "voters": 9000,
        "connections": 8, "polls": ["1"], "sent": 7500, "unsent": 0, "statuses": {"200": 7400, "422": 100},
        "latencyMs": percentiles(0.5), "generatorLagMs": percentiles(0.5),
        "seconds": [{"second": s, "arrived": a, "answered": a, "latencyMs": percentiles(0.4 + s / 10)}
                    for s, a in enumerate([1500, 3000, 3000])],
        "tallies": {"polls": [{"id": "1", "reported": [1, 2], "expectedLow": [1, 2], "expectedHigh": [1, 2]}],
                    "lost": lost, "extra": 0, "uncertainVoters": 0, "problems": []},
    }


def test_a_report_becomes_a_png(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps(report(lost=0)))
    result = subprocess.run([os.path.join(ROOT, "scripts", "plot-load"), str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    picture = tmp_path / "run.png"
    assert result.stdout.strip() == str(picture)
    data = picture.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_bad_report_is_refused(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{}")
    result = subprocess.run([os.path.join(ROOT, "scripts", "plot-load"), str(path), str(tmp_path / "x.png")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and not (tmp_path / "x.png").exists()
