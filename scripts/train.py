"""Rule train: train one model of the grid and record its weights and its activations on the analysed points."""

from nntopo import config
from nntopo.workflow.jobs import job
from nntopo.network.stage import train_and_record

with job(snakemake.log[0], snakemake.threads) as log:
    train_and_record(
        snakemake.wildcards.dataset,
        snakemake.wildcards.model,
        snakemake.params.settings,
        snakemake.output,
        data_dir=config.data_dir(snakemake.config),
        download=snakemake.config["download"],
        device=snakemake.config["device"],
        threads=snakemake.threads,
        log=log.info,
        data_file=snakemake.input.get("data"),
        points=snakemake.params.get("points"),  # config.points_slice: which points are analysed
    )
