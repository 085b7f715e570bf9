"""RQ between processes speaks JSON, never pickle: a job is a registered name, ids and a request id.

Pickle would let anyone who can write to Redis make a worker run arbitrary code; with JSON, the worst a forged job
can do is run one of our registered jobs with JSON arguments. Every process that puts jobs on RQ or reads them
(replicas, workers, the scheduler, the CLI, rq-dashboard) goes through these.
"""

from __future__ import annotations

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

SERIALIZER = JSONSerializer


class JSONJob(Job):
    """An RQ job whose data is JSON, whoever creates or fetches it (rq-scheduler too: it is given this class)."""

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer=None) -> None:
        super().__init__(id, connection=connection, serializer=serializer or SERIALIZER)


def queue(name: str, connection: Redis) -> Queue:
    return Queue(name, connection=connection, serializer=SERIALIZER, job_class=JSONJob)
