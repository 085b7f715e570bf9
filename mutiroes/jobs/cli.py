"""``flask jobs ...``: run a job now, list the periodic jobs, (re)register them, requeue failed jobs, relay."""

from __future__ import annotations

import json

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from mutiroes.jobs import dispatch, outbox, queues, registry, schedule
from mutiroes.models import db
from mutiroes.platform.redis import NOT_CONFIGURED, worker_connection
from mutiroes.timeutil import to_local

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
    if not settings.uses_redis:
        raise click.ClickException(f"Redis is not configured: {NOT_CONFIGURED}")
    return worker_connection(settings)


@group.command("run")
@click.argument("name")
@click.argument("arguments", nargs=-1)
@click.option("--enqueue", is_flag=True, help="hand it to the workers (through the outbox) instead of running here")
def run_command(name, arguments, enqueue):
    """Run job NAME now, in this process: flask jobs run send_welcome_email user_id=42"""
    if name not in registry.REGISTRY:
        raise click.BadParameter(f"unknown job {name!r}; known: {', '.join(sorted(registry.REGISTRY))}")
    kwargs = _parse_kwargs(arguments)
    if enqueue:
        dispatch.request(name, **kwargs)
        db.session.commit()
        click.echo(f"requested {registry.describe(name, kwargs)}")
        return
    try:
        result = registry.run_now(name, **kwargs)
    finally:
        db.session.remove()
    click.echo(f"{registry.describe(name, kwargs)} -> {result!r}")


@group.command("list")
def list_command():
    """List the periodic jobs, their schedule and (with Redis) their next run."""
    settings = current_app.config["MUTIROES"]
    runs = {}
    if settings.uses_redis:
        runs = schedule.scheduled(schedule.make_scheduler(_redis(), settings))
    click.echo(f"periodic jobs (cron in {settings.time_zone}):")
    for entry in schedule.SCHEDULE:
        if entry.id in runs:
            state = f"next run {to_local(runs[entry.id]).isoformat(timespec='minutes')}"
        else:
            state = "not registered (start the scheduler or run `flask jobs schedule`)"
        arguments = registry.describe(entry.job, entry.kwargs)
        click.echo(f"  {entry.id:<24} {entry.cron:<14} {arguments:<45} {state}")


@group.command("schedule")
def schedule_command():
    """Register the periodic jobs in Redis (what the scheduler does on start; idempotent)."""
    outcome = schedule.register(schedule.make_scheduler(_redis(), current_app.config["MUTIROES"]))
    for state, ids in outcome.items():
        if ids:
            click.echo(f"{state}: {', '.join(ids)}")


@group.command("requeue-failed")
@click.option("--queue", "queue_names", multiple=True, help="only these queues (default: all)")
def requeue_failed_command(queue_names):
    """Put every job of the failed registries back on its queue."""
    connection = _redis()
    total = 0
    for name in queue_names or registry.QUEUES:
        failed = queues.queue(name, connection).failed_job_registry
        for job_id in failed.get_job_ids():
            failed.requeue(job_id)
            total += 1
    click.echo(f"requeued: {total}")


@group.command("relay")
def relay_command():
    """Push the outbox rows RQ does not hold (Redis could not take them when they were committed), mark the rest."""
    _redis()
    click.echo(f"pushed: {outbox.relay(current_app._get_current_object(), grace_seconds=0)}")


def init_app(app: Flask) -> None:
    app.cli.add_command(group)
