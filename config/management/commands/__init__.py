"""Project-wide `manage.py` commands (`seed_demo`); see `config.management`.

A command here only strings together services and demo helpers of the apps below it;
it holds no business rules of its own.
"""
