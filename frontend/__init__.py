"""Templates, static sources and the few pages that belong to no app."""
