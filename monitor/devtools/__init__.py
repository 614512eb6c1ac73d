"""Tools for development and demos only: the embedded broker, the demo data set, the dashboard generator.

Nothing in the worker, state, delivery or HTTP packages imports them.
"""
