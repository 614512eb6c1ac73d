"""Where alert transitions go besides the alerts topic: Alertmanager and webhooks."""
