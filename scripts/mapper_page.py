"""Rule mapper_page: the interactive KeplerMapper page of a model's Mapper graph."""

from nntopo.workflow.figures import write_mapper_page
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    missing = write_mapper_page(snakemake.wildcards.method, snakemake.input, snakemake.output[0],
                                snakemake.params.settings)
    if missing:
        log.warning("could not inline %s: the page shows a warning and needs the network (run `make js`)",
                    ", ".join(missing))
