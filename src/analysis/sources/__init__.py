"""One module per data source: read the publisher's files (or the mirror's), return tidy frames."""
