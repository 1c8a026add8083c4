"""The export dialogs the pages open: OPCO connection logs (opco.py) and attestations
(attestations.py). A dialog builds its UI, checks the viewer's scope and hands the work to
exports/ (a file now) or enqueues a background job of jobs/ (jobs/opco_email.py,
jobs/attestations.py)."""
