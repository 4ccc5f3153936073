"""Forecasting from an observed patient log: reading and validating it, Bayesian updates,
simulation from the as-of date, and the backtest of its coverage."""
