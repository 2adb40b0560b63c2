"""The faust-streaming workers: raw channel events -> the search index (dead letters for what is
refused), and from the change records, hub notifications and first-contact resolution's contacts."""
