"""schemathesis over every route of both vendor OpenAPI files, against a live emulator.

A small run (a few generated requests per operation, mode and id choice) keeps the suite
fast; ``make fuzz`` runs the same harness long. See ``spec_fuzz`` for the properties.

The run is a process of its own: Hypothesis draws some of the values it generates from the
constants of every module of the project the process has imported, so in the suite's
process the requests generated from the same seed would change with whatever other tests
happened to import (a new command, a benchmark), not only with the emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUN = """
import json, sys
sys.path.insert(0, sys.argv[1])
import spec_fuzz

with spec_fuzz.seeded_emulator() as (emu, action_id):
    report = spec_fuzz.fuzz(emu, examples=5, seed=1, action_id=action_id)
print(report.table(), file=sys.stderr)
print(json.dumps({
    "routes": {
        label: {"positive": tally.tried["positive"], "statuses": list(tally.statuses)}
        for label, tally in report.routes.items()
    },
    "violations": report.violations,
    "hard_samples": report.hard_samples(),
}))
"""


def test_generated_requests_get_answers_true_to_the_spec() -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(HERE)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(result.stderr)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    labels = set(report["routes"])
    assert len(labels) == 15, sorted(labels)  # 13 customer routes + 2 async-action routes
    for label, tally in report["routes"].items():
        assert tally["positive"] > 0, f"{label}: nothing generated"
        assert any(200 <= status < 300 for status in tally["statuses"]), f"{label}: no 2xx"
    assert report["violations"] == 0, "\n".join(report["hard_samples"])
