"""bench/scaling.py: its command line (defaults: the challenge protocol, 1, 2, 4 workers and the pool) and how it
counts the tasks that ran at once from their own start and end times."""

from bench.scaling import max_concurrent, parse_args


def test_defaults_are_the_challenge_protocol_on_1_2_4_workers_and_the_pool():
    args = parse_args([])
    assert (args.origins, args.step, args.horizons) == (4, 12, list(range(3, 15)))
    assert args.workers == [1, 2, 4] and args.pool == 2 and args.forecasters == ["model", "no_spillover"]
    assert args.data.name == "ucdp-state-based-deaths-country-month.csv"


def test_max_concurrent_counts_overlapping_intervals_only():
    tasks = [{"started": 0.0, "ended": 10.0}, {"started": 5.0, "ended": 12.0}, {"started": 12.0, "ended": 20.0},
             {"started": 6.0, "ended": 7.0}]
    assert max_concurrent(tasks) == 3  # at t=6.5; the task starting at 12 starts as the second one ends
    assert max_concurrent(tasks[2:3]) == 1 and max_concurrent([]) == 0


def test_the_largest_score_difference_is_relative_and_zero_for_equal_scores():
    from bench.scaling import largest_difference

    first = [{"forecaster": "model", "horizons": [3, 4], "crps": 30.0, "ign": 0.5, "n": 10}]
    assert largest_difference(first, [dict(first[0])]) == 0.0
    moved = [{**first[0], "crps": 30.0 * (1 + 1e-9)}]
    assert abs(largest_difference(moved, first) - 1e-9) < 1e-12
    assert largest_difference([{**first[0], "horizons": [3]}], first) is None  # not the same scores
