"""The one core of mmap_io: mappings, views, bounds, errors and flush accounting, with no await."""
