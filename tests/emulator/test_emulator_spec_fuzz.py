"""schemathesis over every route of both vendor OpenAPI files, against a live emulator.

A small run (a few generated requests per operation, mode and id choice) keeps the suite
fast; ``make fuzz`` runs the same harness long. See ``spec_fuzz`` for the properties.
"""

from __future__ import annotations

import spec_fuzz


def test_generated_requests_get_answers_true_to_the_spec() -> None:
    with spec_fuzz.seeded_emulator() as (emu, action_id):
        report = spec_fuzz.fuzz(emu, examples=5, seed=1, action_id=action_id)
    print(report.table())
    labels = set(report.routes)
    assert len(labels) == 15, sorted(labels)  # 13 customer routes + 2 async-action routes
    for label, tally in report.routes.items():
        assert tally.tried["positive"] > 0, f"{label}: nothing generated"
        assert any(200 <= status < 300 for status in tally.statuses), f"{label}: no 2xx"
    assert report.violations == 0, "\n".join(report.hard_samples())
