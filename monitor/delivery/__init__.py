"""Where alert transitions go besides the alerts topic: Alertmanager, webhooks, the live feed."""
