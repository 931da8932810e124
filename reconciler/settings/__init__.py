"""Settings: the project file ``reconciler.yaml`` (``config``), where each provider lives and how
to reach it (``connection``), and request rates (``ratelimit``)."""
