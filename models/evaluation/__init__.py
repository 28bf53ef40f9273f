"""Judging forecasts on what happened: rolling-origin backtests (backtest.py, with the windows of the challenge
protocol in backtest_windows.py and the comparison in backtest_report.py), the baselines scored beside a model
(baselines.py), the scores (scoring.py) and the learned combination of forecasters (combination.py), which the
count family's served forecast also uses. Of models it imports only the family registry (models.core):
a backtest fits and forecasts through the registered family's model class and its Fit."""
