"""Background work: the one home of every job (docs/architecture.md, "Background jobs").

    background.py   the Celery app and its in-process fallback (Dash background callbacks:
                    Celery with a broker, else diskcache subprocesses), and the servers jobs run in
    signer.py       the one signer of job tickets and emailed / download links
    mail.py         SMTP for the jobs that email
    opco_email.py   "Receive by email" of the OPCO logs dialog
    attestations.py the session's attestations ZIP
    lrs_sync.py     the periodic LRS sync (issue 17), every LEARNSTATS_LRS_SYNC_MINUTES
    periodic.py     periodic jobs: register(), and the scheduler run by Celery beat (make worker)
                    or a thread of each web process, one run at a time through a database lock
    schedule.py     the list of periodic jobs
    worker.py       `make worker`: celery --app jobs.worker worker -B

Dialogs build the UI and enqueue (sign a ticket); exports/ builds files; jobs run them.
"""
