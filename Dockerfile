# Grove's one image: the web process (uvicorn), Celery workers and beat all run from it;
# docker-compose.yml picks the command. Build: docker build -t grove .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GROVE_VAR_DIR=/app/var \
    GROVE_STATIC_ROOT=/app/staticfiles

WORKDIR /app
RUN groupadd --system grove \
    && useradd --system --gid grove --home-dir /app --no-create-home grove \
    && mkdir -p /app/var /app/staticfiles \
    && chown grove:grove /app /app/var /app/staticfiles

# Dependencies first, so code changes do not reinstall them (every wheel is prebuilt for
# linux/amd64 and arm64: no compiler needed).
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY --chown=grove:grove . .
USER grove
# collectstatic imports the settings, which need no database; the key exists for this step only.
RUN GROVE_SECRET_KEY=collectstatic-at-build-time-only-not-a-real-secret \
    python manage.py collectstatic --noinput --verbosity 0

EXPOSE 8080
CMD ["uvicorn", "backend.asgi:application", "--host", "0.0.0.0", "--port", "8080", \
     "--ws", "websockets-sansio", "--lifespan", "off", "--ws-max-size", "65536"]
