"""RQ runtime: queue names, enqueue-after-commit, deterministic job ids, app-aware workers.

Jobs carry ids, never objects; a job function calls a domain service with those ids.
"""

from integration.jobs.runtime import (
    QUEUES,
    JobRuntime,
    enqueue_after_commit,
    install_commit_hooks,
    job_id,
)

__all__ = ["QUEUES", "JobRuntime", "enqueue_after_commit", "install_commit_hooks", "job_id"]
