"""Checkpoint trial: a trial's outcome (did its network reach zero training error?), from its metrics.json."""

import json

from nntopo.store import atomic, read_metrics
from nntopo.workflow import trials
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    record = trials.outcome(read_metrics(snakemake.input.metrics), snakemake.input.metrics)
    log.info("%s: %s", record["model"], f"zero training error at epoch {record['epochs_trained']}"
             if record["zero_training_error"] else f"failed: {trials.failure(record)}")
    with atomic(snakemake.output[0]) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
