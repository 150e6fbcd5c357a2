"""Training scripts the local platform runs as subprocesses (a folder of their own: run as
scripts, they must not sit beside modules that shadow the standard library, like platform.py)."""
