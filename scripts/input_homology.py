"""Rule input_homology: choose each class's points and subsample among the analysed points, and measure
the input layer."""

from nntopo import config
from nntopo.topology.stage import input_homology
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    input_homology(snakemake.wildcards.dataset, snakemake.params.settings, snakemake.output[0],
                   data_dir=config.data_dir(snakemake.config), download=snakemake.config["download"],
                   data_file=snakemake.input.get("data"), points=snakemake.params.points, log=log.info)
