"""The figures stage: which figures exist and what each reads (``specs``, the tables the Snakefile
imports, re-exported here), and how each is drawn from the workflow's files (``draw``, loaded by the
figure jobs alone: it imports matplotlib and every stage's plots).

Call sites read ``from nntopo import figures`` ... ``figures.batch_outputs(figures.MODEL_BATCH, config)``.
"""

from nntopo.figures.specs import (  # noqa: F401 (the public API)
    CHANNEL_BATCH,
    CHANNEL_FIGURES,
    CNN_ID_REGEX,
    FILTER_BATCH,
    FILTER_FIGURES,
    FLOW_FIGURES,
    FLOW_GRAPH_FIGURES,
    GRAPH_FIGURES,
    IMAGE_BATCH,
    IMAGE_FIGURES,
    KERNEL_BATCH,
    KERNEL_FIGURES,
    LAYER_BATCH,
    LAYER_FIGURES,
    METHOD_FIGURES,
    METHOD_NEEDS,
    MLP_ID_REGEX,
    MODEL_BATCH,
    MODEL_FIGURES,
    PER_METHOD,
    SEPARATOR,
    SPECS,
    Spec,
    batch,
    batch_inputs,
    batch_outputs,
    batch_settings,
    embedding_method,
    image_batches,
    image_outputs,
    makes_graph,
    model_image_outputs,
    output_pattern,
    settings_of,
    shows_pixels,
)
