"""The archive: write and read its members, check them, show and run its module.

Reading trusts nothing an archive declares (:mod:`snapshot.archive.reader`);
whether its module may run is decided elsewhere (:mod:`snapshot.trust`) and
handed to :mod:`snapshot.archive.loader` as a hash. Only the loader imports
Keras; the rest reads archives on a machine without it.
"""
