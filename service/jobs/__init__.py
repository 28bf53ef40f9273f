"""Background jobs (procrastinate's split): `queue` (database operations: enqueue, one-statement claim
under a lease, heartbeat, finish), `retry` (pure decisions), `worker` (claim -> run -> end in one place),
`handlers` (what each kind does on the service side), `tasks` (plain picklable functions run on an
executor), `scheduler` (cron ticks, one job per (model, tick))."""
