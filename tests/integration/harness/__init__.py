"""Integration test harness: real containerd, real docker-registry, offline images, spegel.

Modules: util (waits, processes, temp dirs, loopback HTTP), daemon (ManagedDaemon, the base of
every daemon wrapper), containerd, registry, imagegen, images (push/pull/import), spegel (the
daemon under test), expect (index expectations), runner (the run.py of this suite and of
tests/cluster).
"""
