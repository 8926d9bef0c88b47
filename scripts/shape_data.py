"""Rule shape_data: generate a point cloud of known topology (disks, tori) into its data file."""

from nntopo.data import prepare
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    prepare.write_shape(snakemake.wildcards.dataset, snakemake.params.settings, snakemake.output[0], log=log.info)
