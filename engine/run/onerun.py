"""One run of a send, wired together: the settings and the journal header, the resume plan,
the sender and tracker, the report (``send_once``; the door that checks its options and picks
a single run or a loop of rounds is engine/run/api.py). Reading the input is sources.py's,
sending is sender.py's, the report is report.py's.
"""

from __future__ import annotations

import os
import random
import uuid
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio

from engine.batching.chunker import Chunker
from engine.config.credentials import pick_credentials
from engine.config.settings import (
    Settings,
    check_campaign,
    check_journal_server,
)
from engine.errors import ServerError, UsageError
from engine.rc.client import ApiClient
from engine.rc.ratebudget import unless_stopped
from engine.rc.transport import AiohttpTransport
from engine.reading import ReadOptions
from engine.reading.consentset import ConsentSet
from engine.reading.records import number_checker
from engine.run.bodyspool import BodySpool
from engine.run.brandcap import Journaled, journaled
from engine.run.capledger import carrier_watch
from engine.run.consent import Consents, read_consents
from engine.run.consentcache import cache_owner, cache_path
from engine.run.consentrefresh import ConsentRefresh
from engine.run.events import Event, Resumed, RunWarning, Stamper, Summary
from engine.run.gate import Gate
from engine.run.idleround import report_settings
from engine.run.journal import VERSION, Journal, JournalState, read_header, read_journal
from engine.run.localqueue import LocalRejections
from engine.run.metrics import Metrics, on_read
from engine.run.options import RunSettings, SendOptions
from engine.run.pacing import observer
from engine.run.preflight import Preflight, estimate_recipients, run_preflight
from engine.run.prepare import (
    consent_age,
    journal_opener,
    refuse_existing,
    refuse_report_over,
    resume_scope,
    settings_of,
)
from engine.run.recorder import Emit, Recorder
from engine.run.report import finish, stamp
from engine.run.resume import ResumePlan, before, restore, unsettled
from engine.run.resumeheader import check_matches, history_start, journal_limits, resume_options
from engine.run.scheduling import (
    RoundLimits,
    login_checks,
)
from engine.run.sender import Sender
from engine.run.session import end_session
from engine.run.sources import (
    Recipients,
    chunks_of,
    filtered_sink,
    identity,
    in_flight,
    is_path,
    rebuilder,
)
from engine.run.spill import FileSpill
from engine.run.stopping import ReadStopped, consents_unless_stopped, lone
from engine.run.suppress import empty_sources
from engine.run.suppress import load as load_suppressed
from engine.run.suppresskept import added_since
from engine.run.tracker import Tracker

__all__ = ["send_once"]


async def send_once(recipients: Recipients | None, options: SendOptions,
                spill: FileSpill, spool: BodySpool, limits: RoundLimits | None = None
                ) -> dict[str, Any]:
    """One run; ``spill``: its rejections', ``spool``: its request bodies' (both removed by
    the caller after the report); ``limits``: a scheduled send's round (engine/run/rounds.py):
    only eligible recipients, up to a quota, no POST past a deadline."""
    if options.resume is not None:
        recipients, options = resume_options(Path(options.resume), options, recipients)
    if recipients is None or options.sender is None:
        raise UsageError("send needs recipients and sender, or resume= a journal that holds "
                         "them.")
    if isinstance(recipients, str | os.PathLike) and is_path(recipients):
        refuse_report_over(options.report, recipients, "the list being sent")
    settings = settings_of(options)
    if options.resume is not None:  # its batches are only on its own server: before login
        check_journal_server(read_header(Path(options.resume)), settings)
    sender, text = options.sender, options.text
    read = options.read or ReadOptions(batch_text=text, template=options.template)
    if options.suppress and options.resume is None:
        read = replace(read, suppress=load_suppressed(options.suppress, read))
    check_campaign(sender, text, read.template)
    # a resume judges by the lists as its run read them, and warns of what they gained since
    added, notes = (None, empty_sources(read.suppress)) if options.resume is None \
        else added_since(Path(options.resume), read)
    credentials = pick_credentials(settings, options.credentials)
    if is_path(recipients) or str(recipients) == "-":
        read = replace(read, source=str(recipients))
    identity_now = identity(recipients, read)
    if options.journal is not None and options.resume is None:
        refuse_existing(Path(options.journal))
    owned = options.transport is None
    transport = options.transport or AiohttpTransport(settings.retry.request_timeout)
    client = ApiClient(settings, credentials, transport, clock=options.clock,
                       sleep=options.sleep, rng=random.Random(), wall=options.wall)
    chunker = Chunker(sender, text, settings.limits.max_batch_bytes,
                      settings.limits.max_batch_messages, sinks=spool.sink)
    stopping = options.stop or anyio.Event()
    client.stop = stopping
    if options.on_wait is not None:
        client.light.on_wait = client.auth.on_wait = options.on_wait

    started, interrupted = stamp(options.wall()), False
    # a resume keeps its run's id: every event of the run, before and after, carries it
    run_id = str(read_header(Path(options.resume))["runId"]) if options.resume is not None \
        else str(uuid.uuid4())
    stamped = Stamper(run_id, options.wall)

    async def emit(event: Event) -> None:
        await options.emit(stamped(event.to_json()))

    plan: ResumePlan | None = None
    metrics: Metrics | None = None
    done_before: Resumed | None = None  # a resume: what the runs before it did
    checked: Preflight | None = None
    resume_since: float | None = None
    recorder: Recorder | None = None
    failure: ServerError | None = None
    consents: Consents | None = None
    refresh: ConsentRefresh | None = None
    consent_scope: str | None = \
        (options.suppress_scope or "account") if options.consent else None
    try:
        for note in notes:
            await emit(RunWarning("suppress", note))
        for code, note in limits.notes if limits is not None else ():
            await emit(RunWarning(code, note))
        if options.resume is not None:
            state = read_journal(Path(options.resume))
            recorded = state.header.get("consent")
            if options.consent and recorded:
                consent_scope = resume_scope(options.suppress_scope, recorded, options.resume,
                                             bool(state.header.get("schedule")))
            touched = check_matches(state, read.source, sender, text, read.template)
            run_id, started = state.header["runId"], state.header.get("startedAt", started)
            recorder, plan = _reopen(Path(options.resume), state, emit, chunker, spill)
            # a round before left recipients anywhere in the input; a list whose time is
            # not the journal's (a copy) is read whole, every chunk skipped checked by content
            if limits is not None or touched:
                plan.read_from = None
            done_before = before(plan, recorder.aggregator)
            await emit(done_before)  # counters kept from events go on from there
            resume_since = history_start(state.header)
            settings = journal_limits(settings, options, state.header, chunker)
        else:
            recorder = Recorder(emit, open_journal=journal_opener(
                options, settings, read, run_id, started, chunker.max_bytes, identity_now,
                consent_scope, None if limits is None else limits.schedule_header),
                spill=spill)
        if limits is not None:  # positions a round left out are gaps of its chunks
            recorder.holes = True
        run = RunSettings(settings, sender, text, options.on_ambiguous, resume_since)
        # the consent gate, filled once the opt-outs are read; on a resume it also drops
        # what the run's gates rejected before, from what is read again
        gate = Gate(ConsentSet([]), lambda r: None,
                    plan.known_local if plan is not None else frozenset(), added,
                    check=number_checker(read))
        rebuild = rebuilder(str(recipients), read, sender, text, recorder, gate) \
            if is_path(recipients) and not read.dedupe else None
        metrics = None if options.metrics is None else \
            Metrics(options.metrics, run_id, recorder, client)
        if metrics is not None:  # this run's, before a sign-in or opt-out read of minutes
            metrics.write()
        worker = Sender(run, client, chunker, recorder, stopping=stopping, rebuild=rebuild,
                        on_read=on_read(options.on_read, metrics,
                                        done_before.read - done_before.rejected_local
                                        if done_before is not None else 0),
                        sleep=options.sleep, clock=options.clock, wall=options.wall)
        if limits is not None:
            worker.deadline = limits.deadline
            # every chunk, by its recipients, never by its number: a caught chunk screened
            # during the stop is resent under a new number that this round did not cut
            worker.holds = limits.holds
            worker.pacing = limits.pacing
        if plan is not None:
            worker.own({r.batch_id for r in plan.records.values() if r.batch_id})
        if await unless_stopped(stopping, client.bearer):
            if limits is not None:  # the server's clock, the sender's day (rounds.py)
                mine = journaled(plan.records.values()) if plan is not None else Journaled()
                late, said = await login_checks(limits, client, sender, mine)
                worker.deadline = worker.deadline if late is None else late
                for code, message in said:
                    notes.append(message)
                    await emit(RunWarning(code, message))
            if options.preflight:
                checked = await _preflight(client, sender, recipients, emit,
                                           None if limits is None else limits.daily_cap)
            if consent_scope is not None:  # before the first POST: no opt-out is texted
                scope, journal = consent_scope, options.resume or options.journal
                cache = cache_path(journal)
                owner = cache_owner(run_id, credentials.client_id, settings.account)
                consents = await consents_unless_stopped(stopping, read_consents(
                    client, sender, scope, consent_age(options), cache, options.wall, owner))
                gate.consents = consents.set
                await emit(consents.event())
                # and again before a batch's first POST once older than --max-consent-age
                refresh = worker.consent = ConsentRefresh(
                    consents, lambda: read_consents(client, sender, scope, 0.0, cache,
                                                    options.wall, owner),
                    gate, recorder, max_age=options.max_consent_age, wall=options.wall,
                    stopping=stopping, sinks=chunker.sinks, journal=journal)
            if limits is not None:  # the schedule is in the journal before any POST
                recorder.keep_journal()
            with ExitStack() as stack:
                local = LocalRejections()
                gate.sink = sink = filtered_sink(local, plan)
                # a resume always drops what the journal rejected locally (a gate of any
                # run before may have); --no-consent only leaves the screening out
                used = consents is not None or plan is not None
                # with a gate the reader's rejections pass through it, to stay in order
                source, share = chunks_of(recipients, read, chunker,
                                          gate.hold if used else sink, stack, plan, local,
                                          gate if used else None, stopped=stopping.is_set,
                                          eligible=None if limits is None else limits.eligible,
                                          quota=None if limits is None else limits.quota)
                caught = in_flight(recipients, read, plan, sender, text, stack,
                                   gate if used else None)
                worker.screen = gate.screen if used else None
                follower = None if options.wait == "accepted" else Tracker(
                    worker.tracking, delivery_timeout=options.delivery_timeout
                    if options.wait == "delivered" else None)
                if limits is not None and follower is not None:
                    follower.on_statuses = carrier_watch(recorder, notes, options.wall,
                                                         worker.stop_posting)
                if follower is not None and worker.pacing is not None:
                    follower.on_poll = observer(worker.pacing, options.wall)
                    follower.on_rebase = worker.pacing.rebase
                work = worker.execute(source, local, caught, follower, share)
                interrupted = await lone(work if metrics is None else
                                          metrics.beside(work, options.sleep))
            if not stopping.is_set():
                recorder.keep_journal()
    except ReadStopped:  # stopped before the first POST: the report says interrupted
        assert recorder is not None  # made before the opt-outs are read
    except ServerError as exc:  # the token endpoint failed mid-run: report, then raise
        if recorder is None or not (recorder.records or plan is not None):
            _failed(metrics)
            raise  # nothing was sent, nothing to report (a refused first login)
        failure = exc
    except BaseException:
        _failed(metrics)
        raise
    finally:
        try:
            if recorder is not None:
                recorder.close()
        finally:  # the session ends even when the journal cannot be closed (a full disk)
            await end_session(client, transport, revoke=options.revoke, owned=owned)
    try:
        document = await _report(options, settings, chunker, client, recorder, emit,
                                 run_id=run_id, started=started, source=read.source,
                                 template=read.template,
                                 interrupted=interrupted or stopping.is_set(), checked=checked,
                                 failure=failure,
                                 consent=refresh.latest.as_json() if refresh is not None else
                                 consents.as_json() if consents is not None else None,
                                 notes=notes + ([refresh.failure] if refresh is not None and
                                                refresh.failure is not None else []),
                                 schedule=limits.report() if limits is not None and
                                 limits.report is not None else None)
    except BaseException:  # the report could not be written, or on_event raised
        _failed(metrics)
        raise
    if metrics is not None:  # a scheduled send's rounds: finished after the last one
        metrics.close(finished=limits is None, failed=failure is not None)
    if failure is not None:
        raise failure
    return document


def _failed(metrics: Metrics | None) -> None:
    """The metrics file's last write for a run that ends in an exception: finished and
    failed, so it is not taken for a stuck run."""
    if metrics is not None:
        metrics.close(failed=True)


def _reopen(path: Path, state: JournalState, emit: Emit, chunker: Chunker, spill: FileSpill
            ) -> tuple[Recorder, ResumePlan]:
    """A resumed run's recorder on its journal, with the settled chunks restored and the
    chunks it will cut again marked superseded; the chunker numbers on after them."""
    recorder = Recorder(emit, journal=Journal.reopen(path, state.complete_bytes), spill=spill)
    recorder.bitmaps = state.header.get("version") == VERSION  # not into an older journal
    plan = restore(state, recorder.aggregator)
    recorder.supersede(plan.superseded)
    recorder.restore(plan.records, plan.origins, plan.holdings, plan.members)
    chunker.set_next_number(plan.next_number)
    if plan.max_bytes:
        chunker.lower_limit(plan.max_bytes)
    return recorder, plan


async def _report(options: SendOptions, settings: Settings, chunker: Chunker,
                  client: ApiClient, recorder: Recorder, emit: Emit, *, run_id: str,
                  started: str, source: str, template: str | None, interrupted: bool,
                  checked: Preflight | None, failure: ServerError | None,
                  consent: dict[str, Any] | None = None, notes: list[str] | None = None,
                  schedule: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report written (while the journal is still locked), its warnings and the
    summary emitted."""
    # --wait accepted reads no message store: adopted batches' pending recipients stay so
    left = unsettled(recorder.records.values(), str(options.resume or options.journal or "")) \
        if options.wait == "accepted" else None
    done = finish(
        run_id=run_id, profile=settings.profile, source=source,
        settings={**report_settings(options, settings, chunker.max_bytes),
                  "template": template},
        started=started, records=list(recorder.records.values()),
        aggregator=recorder.aggregator, wait=options.wait, interrupted=interrupted,
        requests=client.requests, throttled=client.throttled,
        preflight=checked.as_json() if checked is not None else None,
        warnings=(notes or []) + (list(checked.warnings) if checked is not None else []) +
        ([f"the run stopped: {failure}"] if failure is not None else []) +
        ([left] if left is not None else []),
        failed=failure is not None, path=options.report, finished=stamp(options.wall()),
        consent=consent, schedule=schedule)
    if done.warning is not None:
        await emit(RunWarning("mostly-rejected", done.warning))
    if left is not None:
        await emit(RunWarning("pending", left))
    await emit(Summary(done.document["status"], done.totals, client.requests,
                       client.throttled))
    return done.document

async def _preflight(client: ApiClient, sender: str, recipients: Recipients, emit: Emit,
                     capped: int | None = None) -> Preflight:
    checked = await run_preflight(client, sender, estimate_recipients(recipients), capped=capped)
    for message in checked.warnings:
        await emit(RunWarning("preflight", message))
    return checked


