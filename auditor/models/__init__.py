"""Models and datasets as dependencies: find references in a project (``refs``), resolve them on the Hugging Face
Hub or in its local cache (``hub``), verify OpenSSF model signatures (``signing``).

Nothing here imports or runs the audited project: Python files are read with ``ast``, weights are never loaded.
"""
