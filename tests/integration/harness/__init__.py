"""Integration test harness: real containerd, real docker-registry, offline images, spegel.

Modules: util (waits, processes, temp dirs, loopback HTTP), containerd, registry, imagegen,
images (push/pull/import), spegel (the daemon under test), expect (index expectations).
"""
