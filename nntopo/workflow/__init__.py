"""The workflow's plumbing: how a stage runs as a job, recovery after a kill, and the table of figures."""
