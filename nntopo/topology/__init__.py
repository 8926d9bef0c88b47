"""Topology of what a network computes and holds: persistent homology of every layer's classes
(homology.py: the algorithms; measures.py: the table of measures read from them; stage.py: the files;
plots.py: the figures) and neural persistence of its weights (persistence.py, measured during training)."""
