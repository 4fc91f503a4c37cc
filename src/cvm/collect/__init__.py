"""Live event collection: Segment-compatible intake, durable log, micro-batch warehouse loader."""
