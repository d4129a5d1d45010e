"""The OGC API Processes job manager: pygeoapi's PostgreSQL manager,
completed where One Map needs it.

* Results are kept in the job table's `output` column (pygeoapi 0.24 creates
  the column but writes results to files only): jobs and their results live
  in PostgreSQL and survive a restart of the gateway, on any replica.
* A process may report progress (`context["progress"](percent, message)`)
  and learns who runs it (`context["principal"]`), taken from the request in
  the request's thread.
* Errors keep their meaning: input errors of a synchronous execution come
  back as 4xx with the bilingual message and leave no job behind; an
  asynchronous job that fails is `failed` with the reason as its message, and
  the failedUri receives the reason.
* Subscriber callbacks (successUri, inProgressUri, failedUri) go through the
  outbox (integration.outbox): signed, retried, delivered once per key,
  surviving a restart; they never fail a job that succeeded.
* The job list pages in SQL and does not load results.
* A job knows the request that created it (`request_id`, in its row, its
  log lines and its audit rows) and runs at most its time limit
  (`time_limit_s` of processes.yaml, else `limits.process_seconds`): then it
  is stopped and failed with a bilingual message.
* Jobs belong to their creator (`owner`): another caller gets 404 on a
  job's status, results and dismissal, and the list shows one's own jobs;
  a role whose `jobs` permission in config/gateway.yaml is `all` sees all.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
from collections.abc import Callable
from multiprocessing import dummy
from typing import Any

import flask
from pygeoapi.process.base import (
    BaseProcessor,
    JobNotFoundError,
    JobResultNotFoundError,
    ProcessorExecuteError,
)
from pygeoapi.process.manager.postgresql import PostgreSQLManager
from pygeoapi.util import (
    JobStatus,
    RequestedResponse,
    Subscriber,
    get_current_datetime,
    is_request_allowed,
)
from sqlalchemy import Column, String, func, select, text
from sqlalchemy.orm import Session

from integration.egov import enqueue_callback
from onemap.core import logs
from onemap.core.auth import Principal, sees_all_jobs
from onemap.core.errors import OneMapError, Problem
from onemap.core.settings import Settings

LOGGER = logging.getLogger(__name__)


class ProcessTimeout(BaseException):
    """Raised inside a job's thread when its time is up: a BaseException,
    so that a process's own `except Exception` does not swallow it."""


def run_with_limit(run: Callable[[], Any], seconds: float | None) -> Any:
    """`run()` in this thread, stopped by ProcessTimeout after `seconds`.

    Python cannot kill a thread: a timer raises the exception in it (at its
    next Python instruction: a database statement under way finishes
    first, and the `with` blocks around it roll back). An exception still
    pending when `run` returns in time is withdrawn."""
    if not seconds:
        return run()
    thread = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"running": True, "fired": False}

    def stop() -> None:
        with lock:
            if state["running"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, ctypes.py_object(ProcessTimeout))

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()
    try:
        return run()
    finally:
        timer.cancel()
        with lock:
            state["running"] = False
            if state["fired"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, None)


def problem_of(exc: BaseException, time_limit_s: float | None = None) -> Problem:
    """What a failed execution tells its caller."""
    if isinstance(exc, OneMapError):
        return exc.problem
    if isinstance(exc, ProcessTimeout):
        return Problem(500, "ProcessTimeout", f"处理超时：运行超过 {time_limit_s:g} 秒的上限，已停止",
                       f"The process ran longer than its limit of {time_limit_s:g} s and was stopped")
    if isinstance(exc, ProcessorExecuteError):
        return Problem(int(exc.http_status_code), exc.ogc_exception_code, "处理服务执行失败", exc.message)
    return Problem(500, "NoApplicableCode", f"处理服务内部错误（{exc.__class__.__name__}）",
                   f"Internal error of the process ({exc.__class__.__name__}: {exc})")


class ProblemError(ProcessorExecuteError):
    """A Problem raised through pygeoapi: its description carries the
    Problem as JSON, which the gateway turns back into the bilingual body."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(user_msg=problem.to_json().decode("utf-8"))
        self.http_status_code = problem.status
        self.ogc_exception_code = problem.code


class OneMapJobManager(PostgreSQLManager):
    def __init__(self, manager_def: dict) -> None:
        super().__init__(manager_def)
        # pygeoapi's table has no owner: added once, and to the model. Only
        # when missing: even `ADD COLUMN IF NOT EXISTS` queues for an
        # exclusive lock, and a backup holding the tables (its checksums
        # transaction) while pg_dump waits behind that queue never ends.
        with self._engine.begin() as conn:
            present = set(conn.execute(text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'jobs' AND table_name = 'jobs'")).scalars())
            for column in {"owner", "request_id"} - present:
                conn.execute(text(f"ALTER TABLE jobs.jobs ADD COLUMN IF NOT EXISTS {column} text"))
        for column in ("owner", "request_id"):
            if column not in self.table_model.c:
                self.table_model.append_column(Column(column, String))
        self._listed = [c for c in self.table_model.c if c.name != "output"]

    # --- ownership ----------------------------------------------------------
    @staticmethod
    def _caller() -> Principal | None:
        """The caller of the request being served; None inside a job's own
        thread (the job manager itself, not a client)."""
        if not flask.has_request_context():
            return None
        return flask.request.environ.get("onemap.principal")

    def _owned(self, query: Any) -> Any:
        caller = self._caller()
        if caller is None or sees_all_jobs(caller):
            return query
        return query.where(self.c.owner == caller.name)

    def add_job(self, job_metadata: dict) -> str:
        caller = self._caller()
        return super().add_job({**job_metadata, "owner": caller.name if caller else None,
                                "request_id": logs.REQUEST_ID.get()})

    # --- the request's context, handed to the processor ------------------
    def get_processor(self, process_id: str) -> BaseProcessor:
        processor = super().get_processor(process_id)
        context: dict[str, Any] = {"principal": None, "request_id": logs.REQUEST_ID.get(),
                                   "time_limit_s": self.processes[process_id].get("time_limit_s")}
        if flask.has_request_context():
            context["principal"] = flask.request.environ.get("onemap.principal")
        processor.context = context
        return processor

    # --- execution --------------------------------------------------------
    def _execute_handler_async(self, p: BaseProcessor, job_id: str, data_dict: dict,
                               requested_outputs: dict | None = None, subscriber: Subscriber | None = None,
                               requested_response: str | None = RequestedResponse.raw.value
                               ) -> tuple[str, None, JobStatus]:
        args = (p, job_id, data_dict, requested_outputs, subscriber, requested_response, True)
        dummy.Process(target=self._run, args=args).start()
        return "application/json", None, JobStatus.accepted

    def _execute_handler_sync(self, p: BaseProcessor, job_id: str, data_dict: dict,
                              requested_outputs: dict | None = None, subscriber: Subscriber | None = None,
                              requested_response: str | None = RequestedResponse.raw.value
                              ) -> tuple[str, Any, JobStatus]:
        return self._run(p, job_id, data_dict, requested_outputs, subscriber, requested_response, False)

    def _run(self, p: BaseProcessor, job_id: str, data_dict: dict, requested_outputs: dict | None,
             subscriber: Subscriber | None, requested_response: str | None,
             background: bool) -> tuple[str, Any, JobStatus]:
        def progress(percent: int, message: str) -> None:
            if background:  # a synchronous caller waits for the end: no one reads progress
                self.update_job(job_id, {"status": JobStatus.running.value, "progress": int(percent),
                                         "message": message, "updated": get_current_datetime()})

        p.context["progress"] = progress  # p.context: set by get_processor
        # a job's thread starts with empty context variables: its lines and
        # audit rows carry the id of the request that started it
        logs.REQUEST_ID.set(p.context.get("request_id"))
        logs.COMPONENT.set("jobs")
        progress(10, "运行中 / running")
        if subscriber and subscriber.in_progress_uri:
            self._callback(p, job_id, "inProgress", subscriber.in_progress_uri, self._status_info(job_id))
        try:
            extra = {"outputs": requested_outputs} if p.supports_outputs else {}
            mimetype, outputs = run_with_limit(lambda: p.execute(data_dict, **extra), p.context.get("time_limit_s"))
        except (Exception, ProcessTimeout) as exc:  # every failure is reported: to the caller, the job, the failedUri
            problem = problem_of(exc, p.context.get("time_limit_s"))
            if problem.status >= 500:
                LOGGER.exception("process %s failed", p.metadata.get("id"))
            if not background and problem.status < 500:
                self.delete_job(job_id)  # bad input: the caller is told now, nothing is kept
                raise ProblemError(problem) from exc
            # the callback is queued before the job shows its end: whoever sees
            # the end can rely on the callback being on its way
            if subscriber and subscriber.failed_uri:
                self._callback(p, job_id, "failed", subscriber.failed_uri,
                               {"type": problem.code, **problem.as_dict(), "http_status": problem.status,
                                "jobID": job_id, "status": JobStatus.failed.value})
            self.update_job(job_id, {"status": JobStatus.failed.value, "finished": get_current_datetime(),
                                     "updated": get_current_datetime(), "mimetype": "application/json",
                                     "message": f"{problem.zh} / {problem.en}"})
            if not background:
                raise ProblemError(problem) from exc
            return "application/json", problem.as_dict(), JobStatus.failed
        if requested_response == RequestedResponse.document.value:
            outputs = {"outputs": [outputs]}
        body = outputs if isinstance(outputs, bytes) else (
            outputs.encode("utf-8") if isinstance(outputs, str) else json.dumps(outputs, ensure_ascii=False).encode())
        done = {"status": JobStatus.successful.value, "message": "完成 / job complete", "progress": 100}
        if subscriber and subscriber.success_uri:  # queued first, as above
            document = outputs if isinstance(outputs, dict | list) else {
                "jobID": job_id, "processID": p.metadata.get("id"), **done}
            self._callback(p, job_id, "success", subscriber.success_uri, document)
        self.update_job(job_id, {**done, "finished": get_current_datetime(), "updated": get_current_datetime(),
                                 "mimetype": mimetype, "output": body})
        return mimetype, outputs, JobStatus.successful

    def _status_info(self, job_id: str) -> dict[str, Any]:
        job = self.get_job(job_id)
        return {"jobID": job_id, "processID": job["process_id"], "status": job["status"],
                "message": job["message"], "progress": job["progress"]}

    def _callback(self, p: BaseProcessor, job_id: str, event: str, url: str, payload: Any) -> None:
        """A subscriber callback into the outbox (integration.outbox), which
        delivers it signed, retried until the receiver takes it, once per
        key `<job id>:<event>`: the job's own outcome stands either way."""
        try:
            allowed = is_request_allowed(url, p.allow_internal_requests)
        except (OSError, ValueError) as exc:  # a host that does not resolve, a malformed URL
            LOGGER.error("callback URL %s unusable: %s", url, exc)
            return
        if not allowed:
            LOGGER.error("callback URL not allowed: %s", url)
            return
        enqueue_callback(Settings.from_env().database_url, job_id, event, url, payload)

    # --- reading jobs: results from the table, lists paged in SQL -----------
    def get_jobs(self, status: JobStatus | None = None, limit: int | None = None,
                 offset: int | None = None) -> dict:
        with Session(self._engine) as session:
            query = self._owned(select(*self._listed))
            count = self._owned(select(func.count()).select_from(self.table_model))
            if status is not None:
                query = query.where(self.c.status == status.value)
                count = count.where(self.c.status == status.value)
            query = query.order_by(self.c.created.desc()).offset(offset or 0)
            if limit:
                query = query.limit(limit)
            jobs = [row._asdict() for row in session.execute(query)]
            return {"jobs": jobs, "numberMatched": session.execute(count).scalar_one()}

    def get_job(self, job_id: str) -> dict:
        with Session(self._engine) as session:
            row = session.execute(self._owned(select(*self._listed).where(self.c.identifier == job_id))).first()
        if row is None:
            raise JobNotFoundError()
        return row._asdict()

    def get_job_result(self, job_id: str) -> tuple[Any, ...]:
        with Session(self._engine) as session:
            row = session.execute(self._owned(select(self.c.status, self.c.mimetype, self.c.output)
                                              .where(self.c.identifier == job_id))).first()
        if row is None:
            raise JobNotFoundError()
        if row.status != JobStatus.successful.value:
            return (None,)
        if row.output is None:
            raise JobResultNotFoundError()
        if row.mimetype in (None, "application/json"):
            return row.mimetype, json.loads(row.output)
        return row.mimetype, bytes(row.output)


def fail_interrupted(database_url: str) -> int:
    """Jobs left `accepted` or `running` by a gateway that stopped: their
    threads are gone, so they are failed with the reason (run at start-up,
    before any worker runs jobs)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('jobs.jobs')").fetchone()[0] is None:
            return 0
        return conn.execute(
            "UPDATE jobs.jobs SET status = 'failed', finished = now() AT TIME ZONE 'UTC', "
            "updated = now() AT TIME ZONE 'UTC', message = %s WHERE status IN ('accepted', 'running')",
            ("网关重启，任务中断，请重新提交 / interrupted by a restart of the gateway: submit it again",)).rowcount
