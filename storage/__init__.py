"""Storage: the contract (base), the TMF630 query model (query), and the stores."""
