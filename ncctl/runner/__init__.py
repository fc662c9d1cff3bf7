"""The schedule engine at work: reconcile passes, the daemon, cron runs, the simulated week."""
