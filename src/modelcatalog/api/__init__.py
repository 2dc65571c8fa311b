"""HTTP: thin routers, one per wire dialect; they translate and never decide."""
