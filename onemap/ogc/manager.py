"""The job manager: pygeoapi's PostgreSQL manager (jobs in the `jobs`
schema, so any gateway worker reports on any job) with One Map's errors.

A process that rejects its input raises OneMapError. Executed
synchronously, the client gets the Problem's status and bilingual body
(pygeoapi alone answers 400 with its own text); executed asynchronously,
the job fails with the bilingual message.
"""

from __future__ import annotations

import threading
from multiprocessing import dummy
from typing import Any

from pygeoapi.process.base import BaseProcessor, ProcessorExecuteError
from pygeoapi.process.manager.postgresql import PostgreSQLManager
from pygeoapi.util import JobStatus

from onemap.errors import OneMapError, Problem


class ProblemError(ProcessorExecuteError):
    """A OneMapError in the form pygeoapi's API turns into a response."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(user_msg=problem.to_json().decode("utf-8"))
        self.http_status_code = problem.status
        self.ogc_exception_code = problem.code


class OneMapManager(PostgreSQLManager):
    def _execute_handler_sync(self, p: BaseProcessor, job_id: str, data_dict: dict,
                              requested_outputs: dict | None = None, *args: Any,
                              **kwargs: Any) -> tuple[str, Any, JobStatus]:
        problems: list[Problem] = []
        execute = p.execute

        def guarded(*a: Any, **k: Any) -> Any:
            try:
                return execute(*a, **k)
            except OneMapError as exc:
                problems.append(exc.problem)
                raise

        p.execute = guarded
        mimetype, outputs, status = super()._execute_handler_sync(
            p, job_id, data_dict, requested_outputs, *args, **kwargs)
        if problems and status == JobStatus.failed:
            problem = problems[0]
            self.update_job(job_id, {"message": f"{problem.code}: {problem.zh} / {problem.en}"})
            if not isinstance(threading.current_thread(), dummy.DummyProcess):
                raise ProblemError(problem)  # synchronous: the client's response
        return mimetype, outputs, status
