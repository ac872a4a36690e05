"""What runs: the Celery app, queues and routes, thin tasks, and the steps they run."""
