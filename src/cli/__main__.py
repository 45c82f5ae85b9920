"""`python -m src.cli …` from the repository root runs the same commands as `ntrader …`."""

from ntrader.cli import main

if __name__ == "__main__":
    main()
