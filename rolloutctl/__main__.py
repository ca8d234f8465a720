"""`rolloutctl` and `python -m rolloutctl`."""

from rolloutctl.app import main

if __name__ == "__main__":
    main()
