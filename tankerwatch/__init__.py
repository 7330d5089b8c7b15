"""tankerwatch: fetch sanctions lists, vessel registries and sighting logs; derive voyages and the cap position."""
