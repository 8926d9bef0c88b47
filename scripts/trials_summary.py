"""Rule trials_summary: every seed tried on a dataset, its outcome and whether it was kept (trials.csv),
and a line per group in the log, failures listed."""

import json
from pathlib import Path

from nntopo.store import atomic
from nntopo.workflow import trials
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    records = [json.loads(Path(path).read_text()) for path in snakemake.input.trials]
    table, lines = trials.table(records, **snakemake.params.settings)
    for line in lines:
        log.info(line)
    with atomic(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
