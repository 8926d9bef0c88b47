"""Clustering the test points of a layer: the methods (k-means, t-SNE, UMAP, Mapper) and their figures."""
