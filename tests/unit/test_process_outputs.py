"""The one process contract (processes.base): outputs rendered only when
asked for, value or reference, one raw or several as a JSON document;
caller and progress from the job manager's context; typed inputs."""

from __future__ import annotations

import base64

import pytest

from onemap.core.auth import ANONYMOUS, Principal
from onemap.core.errors import OneMapError
from processes.base import (
    OneMapProcessor,
    Output,
    datetime_input,
    describe,
    integer_input,
    metadata,
)

OUTPUTS = {
    "id": describe(("编号", "Id"), ("", ""), {"type": "integer"}),
    "result": describe(("结果", "Result"), ("", ""), {"type": "object", "contentMediaType": "application/json"}),
    "pdf": describe(("报告", "Report"), ("", ""), {"type": "string", "contentMediaType": "application/pdf"}),
}


class Example(OneMapProcessor):
    default_outputs = {"result": "value", "pdf": "reference"}
    references = frozenset({"pdf"})

    def __init__(self) -> None:
        super().__init__({"name": "example"}, metadata("example", ("例", "Example"), ("", ""), {}, OUTPUTS, [], {}))
        self.rendered: list[str] = []

    def run(self, data: dict) -> dict[str, Output]:
        def value(name: str, content: object) -> Output:
            def render() -> object:
                self.rendered.append(name)
                return content

            return Output(render, href=f"https://example.org/{name}" if name == "pdf" else None)

        return {"id": value("id", 7), "result": value("result", {"ok": True}), "pdf": value("pdf", b"%PDF-1.7")}


def test_no_outputs_named_gives_the_default_set_and_renders_nothing_by_reference():
    p = Example()
    assert p.execute({}) == ("application/json", {"result": {"ok": True}, "pdf": {
        "href": "https://example.org/pdf", "type": "application/pdf"}})
    assert p.rendered == ["result"]


def test_one_output_by_value_comes_raw():
    p = Example()
    assert p.execute({}, {"pdf": {}}) == ("application/pdf", b"%PDF-1.7")
    assert p.execute({}, {"result": {"transmissionMode": "value"}}) == ("application/json", {"ok": True})
    assert p.rendered == ["pdf", "result"]


def test_several_outputs_come_as_a_document_bytes_as_base64():
    mime, body = Example().execute({}, {"result": {}, "pdf": {"transmissionMode": "value"}})
    assert mime == "application/json" and body["result"] == {"ok": True}
    assert body["pdf"]["encoding"] == "base64" and body["pdf"]["mediaType"] == "application/pdf"
    assert base64.b64decode(body["pdf"]["value"]) == b"%PDF-1.7"


def test_identifiers_come_with_every_request():
    p = Example()
    p.identifiers = frozenset({"id"})
    assert p.execute({}, {"result": {}}) == ("application/json", {"id": 7, "result": {"ok": True}})


@pytest.mark.parametrize("outputs", [{"nope": {}}, {"result": {"transmissionMode": "reference"}},
                                     {"pdf": {"transmissionMode": "post"}}])
def test_bad_outputs_are_a_bilingual_400_before_the_run(outputs):
    p = Example()
    with pytest.raises(OneMapError) as err:
        p.execute({}, outputs)
    problem = err.value.problem
    assert problem.status == 400 and problem.field == "outputs" and problem.zh and problem.en
    assert p.rendered == []


def test_caller_and_progress_come_from_the_job_managers_context():
    p = Example()
    assert p.principal == ANONYMOUS
    p.progress(50, "no job: nowhere")
    seen = []
    staff = Principal("someone", "staff")
    p.context = {"principal": staff, "progress": lambda percent, message: seen.append((percent, message))}
    p.progress(50, "半程 / half-way")
    assert p.principal == staff and seen == [(50, "半程 / half-way")]


def test_typed_inputs_name_the_field():
    assert integer_input({"n": "12"}, "n") == 12 and integer_input({}, "n") is None
    assert datetime_input({"t": "2025-01-01T00:00:00Z"}, "t").utcoffset().total_seconds() == 0
    for call in (lambda: integer_input({"n": "x"}, "n"), lambda: datetime_input({"t": "2025-01-01"}, "t"),
                 lambda: datetime_input({}, "t")):
        with pytest.raises(OneMapError) as err:
            call()
        assert err.value.problem.field in ("n", "t") and err.value.problem.zh
