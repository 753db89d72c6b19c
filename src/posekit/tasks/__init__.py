"""Task families, one folder each: ``lift/``, ``pose2d/``, ``bottomup/``, ``hand/``.

Each folder holds the family's LightningModule (``module.py``), its data (data module, named
sources), evaluation, predictor and typed config sections (``config.py``), and registers them
with one ``TASK = TaskSpec(...)`` in its ``__init__`` (`posekit.engine.tasks`). See
docs/architecture.md for the checklist of a new family.
"""
