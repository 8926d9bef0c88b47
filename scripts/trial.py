"""Checkpoint trial: a trial's outcome (did its network reach zero training error?), from its metrics.json."""

import json
from pathlib import Path

from nntopo.store import atomic
from nntopo.workflow import trials
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    record = trials.outcome(json.loads(Path(snakemake.input.metrics).read_text()), snakemake.input.metrics)
    log.info("%s: %s", record["model"], f"zero training error at epoch {record['epochs_trained']}"
             if record["zero_training_error"] else f"failed: {trials.failure(record)}")
    with atomic(snakemake.output[0]) as tmp:
        tmp.write_text(json.dumps(record, indent=1))
