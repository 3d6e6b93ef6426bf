"""What every stage shares: configuration, atomic io, fetching, the table contract and the index builder."""
