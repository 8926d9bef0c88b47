"""What the clusters mean.

- ``ranking``: which neurons characterise each cluster (``rank_neurons``), and THE top-k of a ranking
  (``top_rows``, ``top_neurons``); what each cluster holds;
- ``ablation/``: silencing a cluster's top-k neurons against random ones;
- ``agreement``: clusterings compared (methods, seeds); ``flow``: from layer to layer, the linear probe;
- ``channels``: what a CNN's channels respond to;
- ``plots/``: their figures; ``summary``: the study at a glance;
- ``stage``: the analysis stages, which read and write the files (the modules above take arrays and tables).
"""
