"""Rule external_{name}: record a network the user brings (or take its recorded activations) into the
files a trained model's folder holds."""

from nntopo import config
from nntopo.network.external import import_recorded, record_network
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    settings = snakemake.params.settings
    common = dict(data_dir=config.data_dir(snakemake.config), download=snakemake.config["download"], log=log.info,
                  data_file=snakemake.input.get("data"), neural_persistence_settings=snakemake.params.neural_persistence,
                  points=snakemake.params.get("points"))  # config.points_slice: which points are analysed
    if settings["kind"] == "activations":
        import_recorded(settings, snakemake.output, **common)
    else:
        record_network(settings, snakemake.output, threads=snakemake.threads, **common)
