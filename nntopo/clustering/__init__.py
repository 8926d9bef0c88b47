"""Clustering the analysed points of a layer: the methods (k-means, HDBSCAN, t-SNE, UMAP, Mapper) and what
shows their results.

- ``methods``: every method, registered by name, configured in ``__init__``, run by ``fit(X)``;
- ``tsne``: the t-SNE gradient the tsne method uses; ``mapper``: the Mapper method's graph building;
- ``graph``: a Mapper graph (``MapperGraph``), its layout, its nodes' majority label and statistics;
- ``plots``: the figures; ``page``: the interactive pages (HTML, CSS and JS files beside the builder);
- ``stage``: the files: cluster one layer and write its clusters file, write a graph's GraphML file.
"""
