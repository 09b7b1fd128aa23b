"""What `shadow serve` adds: scheduler, HTTP API, console pages, metrics."""
