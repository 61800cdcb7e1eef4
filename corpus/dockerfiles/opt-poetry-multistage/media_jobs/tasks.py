from celery import Celery

app = Celery('media_jobs')


@app.task
def transcode(key):
    return key
