"""Files of tests/workflow/test_own_data.py: the datasets it writes (make.py) and the network a user
trained outside the repository (colournet.py, copied out of the repository before it is used)."""
