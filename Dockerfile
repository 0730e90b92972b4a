# The DriftControl image: web, worker, beat and watcher all run from it.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    DRIFTCONTROL_VAR_DIR=/var/lib/driftcontrol

RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/driftcontrol driftcontrol \
 && mkdir -p /var/lib/driftcontrol && chown driftcontrol /var/lib/driftcontrol

WORKDIR /app
COPY requirements/base.txt requirements/base.txt
RUN pip install --no-cache-dir -r requirements/base.txt

COPY . .
# Hashed static files are collected at build time; the keys here only satisfy settings.
RUN DEBUG=1 STATIC_MANIFEST=1 python manage.py collectstatic --no-input -v 0

USER driftcontrol
EXPOSE 8000
CMD ["gunicorn", "driftcontrol.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
