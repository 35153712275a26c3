"""``manage.py bench``: a province-sized data set and the measurements made on it.

``generator`` writes the data (bulk COPY, shaped as the services write it); ``measure``
times the pages, the actions, the throughput and viewflow's own pages on it.
"""
