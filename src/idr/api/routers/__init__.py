"""One router per resource: health, lookup, entities and clusters, runs, internal status."""
