"""The schedule's one-shot jobs: what they are (:mod:`ncctl.jobs.definitions`), their
done-records (:mod:`ncctl.jobs.records`) and their read-only status
(:mod:`ncctl.jobs.status`). What each job does is the runner's
(:mod:`ncctl.runner.job_actions`)."""
