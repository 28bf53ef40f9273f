"""Background jobs (procrastinate's split): the queue's database operations (enqueue, one-statement claim
under a lease, heartbeat, finish) are `service.crud.queue`; here `retry` (pure decisions), `worker`
(claim -> run -> end in one place, and `run_worker`, the one worker start-up), `handlers` (what each kind
does on the service side), `tasks` (plain picklable functions run on an executor), `scheduler` (cron
ticks, one job per (model, tick))."""
