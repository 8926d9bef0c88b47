"""The workflow's plumbing: how a stage runs as a job, and recovery after a kill."""
