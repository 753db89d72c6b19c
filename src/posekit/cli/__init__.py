"""The ``posekit`` command line."""
