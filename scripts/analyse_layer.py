"""Rule analyse_layer: rank, describe and ablate every method's clusters of one layer; compare the methods."""

from nntopo import config
from nntopo.analysis.stage import analyse_layer
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    analyse_layer(snakemake.input, snakemake.output, snakemake.params.methods, snakemake.params.ranking,
                  snakemake.params.ablation, log=log.info,
                  data_dir=config.data_dir(snakemake.config), download=snakemake.config["download"],
                  threads=snakemake.threads, external=snakemake.params.external)
