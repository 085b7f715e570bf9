"""``flask jobs ...``: run a job now, list the periodic jobs, (re)register them, requeue failed jobs, relay."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from mutiroes import jobs

group = AppGroup("jobs", help="Background jobs: run, list, schedule, requeue-failed, relay.")


def _parse_kwargs(pairs: tuple[str, ...]) -> dict:
    kwargs = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"expected name=value, got {pair!r}")
        try:
            kwargs[key] = json.loads(raw)  # 42 -> int, "true" -> bool, anything else stays text
        except ValueError:
            kwargs[key] = raw
    return kwargs


def _redis():
    settings = current_app.config["MUTIROES"]
    if settings.redis_url is None:
        raise click.ClickException("MUTIROES_REDIS_URL is not set")
    from workers.worker import redis_for_workers

    return redis_for_workers(settings.redis_url)


@group.command("run")
@click.argument("name")
@click.argument("arguments", nargs=-1)
@click.option("--enqueue", is_flag=True, help="hand it to the workers (through the outbox) instead of running here")
def run_command(name, arguments, enqueue):
    """Run job NAME now, in this process: flask jobs run send_welcome_email user_id=42"""
    from mutiroes.extensions import db

    if name not in jobs.REGISTRY:
        raise click.BadParameter(f"unknown job {name!r}; known: {', '.join(sorted(jobs.REGISTRY))}")
    kwargs = _parse_kwargs(arguments)
    if enqueue:
        jobs.request(name, **kwargs)
        db.session.commit()
        click.echo(f"requested {jobs.describe(name, kwargs)}")
        return
    try:
        result = jobs.run_now(name, **kwargs)
    finally:
        db.session.remove()
    click.echo(f"{jobs.describe(name, kwargs)} -> {result!r}")


@group.command("list")
def list_command():
    """List the periodic jobs, their schedule and (with Redis) their next run."""
    from mutiroes.timeutil import to_local
    from workers import schedule

    settings = current_app.config["MUTIROES"]
    runs = {}
    if settings.redis_url is not None:
        runs = schedule.scheduled(schedule.make_scheduler(_redis(), settings))
    click.echo(f"periodic jobs (cron in {settings.time_zone}):")
    for entry in schedule.SCHEDULE:
        if entry.job not in jobs.REGISTRY:
            state = "not implemented yet"
        elif entry.id in runs:
            state = f"next run {to_local(runs[entry.id]).isoformat(timespec='minutes')}"
        else:
            state = "not registered (start the scheduler or run `flask jobs schedule`)"
        arguments = jobs.describe(entry.job, entry.kwargs)
        click.echo(f"  {entry.id:<24} {entry.cron:<14} {arguments:<45} {state}")


@group.command("schedule")
def schedule_command():
    """Register the periodic jobs in Redis (what the scheduler does on start; idempotent)."""
    from workers import schedule

    outcome = schedule.register(schedule.make_scheduler(_redis(), current_app.config["MUTIROES"]))
    for state, ids in outcome.items():
        if ids:
            click.echo(f"{state}: {', '.join(ids)}")


@group.command("requeue-failed")
@click.option("--queue", "queue_names", multiple=True, help="only these queues (default: all)")
def requeue_failed_command(queue_names):
    """Put every job of the failed registries back on its queue."""
    from rq import Queue

    connection = _redis()
    total = 0
    for name in queue_names or jobs.QUEUES:
        registry = Queue(name, connection=connection).failed_job_registry
        for job_id in registry.get_job_ids():
            registry.requeue(job_id)
            total += 1
    click.echo(f"requeued: {total}")


@group.command("relay")
def relay_command():
    """Push the outbox rows Redis could not take when they were committed."""
    from mutiroes.outbox import relay

    _redis()
    click.echo(f"pushed: {relay(current_app._get_current_object(), grace_seconds=0)}")


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
