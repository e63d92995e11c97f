"""Trust: which generated modules may run on this machine, decided by their sha256.

Loading a snapshot runs its module. A module runs only when this user saved it
here (``snapshot.save`` records it), trusted it after reading it (``snapshot
review``, then ``snapshot trust``), or the caller pins its hash or trusts the
archive explicitly. Nothing here reads archives: the archive layer hands over
a hash, and gets back the hash allowed to run.
"""
