"""Every rule of the catalog lives here once: names, lifecycle, ownership, storage hand-off."""
