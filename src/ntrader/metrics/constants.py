"""The numbers every metric agrees on (year lengths, money precision, SQN cap), importable without pandas."""

DAYS_PER_YEAR = 365.25
#: Sessions a year of a weekday exchange calendar: the fallback for runs too short to measure.
TRADING_DAYS_PER_YEAR = 252
#: Days a year of a market that trades every day (crypto, 7-day data): the short-run fallback.
CALENDAR_DAYS_PER_YEAR = 365
#: A run "covers a year" when its first and last days with data span at least this many calendar
#: days, both counted: 365 less a week, so a calendar year of exchange data that starts after the
#: New Year holiday and ends before the year-end one (2023: Jan 3 - Dec 29, 361 days) is a year.
MIN_YEAR_DAYS = 358
#: Decimals of the account currency (USD cents) that decide a win, a loss or break-even.
MONEY_DECIMALS = 2
#: Van Tharp's cap on the number of trades in his SQN.
SQN_MAX_TRADES = 100
