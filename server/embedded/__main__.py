"""`python -m server.embedded`: the dev stack behind `make run`."""

from .launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
