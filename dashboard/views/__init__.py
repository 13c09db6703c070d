"""Dashboard views, one module per page family; every page needs a staff login."""
