"""The monitor: the worker and everything around it that does I/O (Kafka, HTTP, delivery, the command line)."""
