"""Rule dataset_data: read a user's dataset from its source, check and scale it into its data file and
write its record beside it (nntopo/data/prepare.py)."""

from nntopo.data.prepare import prepare
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    prepare(
        snakemake.params.entry,
        snakemake.params.data_dir,
        snakemake.params.download,
        snakemake.output.data,
        snakemake.output.record,
        config=snakemake.config,
        log=log.info,
    )
