"""totaldemand: Bayesian forecasts of partner procurement demand, served over HTTP."""
