"""FastAPI layer: TMF683 routes, TMF630 query parsing, the event hub."""
