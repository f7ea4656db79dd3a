"""``mlaudit fleet``: audit many projects and model stores in one run, in a local process pool or on Ray.

Modules, one job each:

- ``plan``: what the run is made of (units: projects and model stores; a store's files cut into shards);
- ``keys``: the digest that names a unit's result (its files' contents, the options, the data in use);
- ``work``: what a worker does with one task (the in-process audit, or ``scan_paths`` on one shard);
- ``throttle``: the per-host bound on concurrent requests inside a worker;
- ``localpool`` / ``raypool``: the two executors (worker processes here, or Ray tasks on a cluster);
- ``store``: the output folder (reports, per-unit records written atomically, resume);
- ``scancodec``: a shard's scan result as JSON (what is stored and joined);
- ``aggregate`` / ``html``: ``index.json`` and the HTML fleet report;
- ``runner``: the driver that ties them together.
"""
