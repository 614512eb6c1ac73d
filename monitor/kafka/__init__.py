"""The Kafka edge every part shares: topic names, records and partitioning, client options, batches."""
