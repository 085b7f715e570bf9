"""Process entry points: the RQ worker, the rq-scheduler and its declarative list of periodic jobs, the SMTP sink."""
