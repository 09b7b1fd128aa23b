"""What `shadow demo` writes: the demo bucket and the migration scenarios' corpora."""
